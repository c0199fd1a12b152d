import { createLockClient, type LockClient, MemoryStore, memoryBackend } from '@dlock/lock-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSnowflake,
  IdGenArgumentError,
  leaseWorkerId,
  WorkerIdLostError,
  WorkerIdUnavailableError,
} from '../src/index.js';

const EPOCH = Date.UTC(2020, 0, 1);
const clients: LockClient[] = [];

/** A lock client on a shared in-memory store: one per simulated process. */
function processClient(store: MemoryStore, ttlMs = 30_000): LockClient {
  const client = createLockClient(memoryBackend({ store }), { ttlMs });
  clients.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('leaseWorkerId', () => {
  it('gives each live process the first free worker id, and refuses when all are taken', async () => {
    const store = new MemoryStore();
    const a = await leaseWorkerId({ locks: processClient(store), prefix: 'svc/worker', max: 2 });
    const b = await leaseWorkerId({ locks: processClient(store), prefix: 'svc/worker', max: 2 });
    expect([a.workerId, b.workerId]).toEqual([0, 1]);
    const third = await leaseWorkerId({
      locks: processClient(store),
      prefix: 'svc/worker',
      max: 2,
    }).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(WorkerIdUnavailableError);
    expect((third as WorkerIdUnavailableError).code).toBe('IDGEN_WORKER_ID_UNAVAILABLE');

    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 1, workerId: a });
    expect(sf.decode(sf.nextId()).workerId).toBe(0);
    await a.release();
    await a.release(); // idempotent
    expect(() => sf.nextId()).toThrow(WorkerIdLostError);

    const c = await leaseWorkerId({ locks: processClient(store), prefix: 'svc/worker', max: 2 });
    expect(c.workerId).toBe(0);
    await b.release();
    await c.release();
  });

  it('stops the snowflake generator the moment the lease is lost', async () => {
    const store = new MemoryStore();
    const lost: Error[] = [];
    const lease = await leaseWorkerId({
      locks: processClient(store, 60),
      prefix: 'svc/worker',
      max: 32,
      onLost: (error) => lost.push(error),
    });
    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 0, workerId: lease });
    sf.nextId();
    // Another process takes the worker id over (as if our lease had expired unnoticed).
    store.delete('svc/worker/0');
    const intruder = await leaseWorkerId({
      locks: processClient(store),
      prefix: 'svc/worker',
      max: 32,
    });
    expect(intruder.workerId).toBe(0);
    // The watchdog (renewing every ~20 ms) finds the lock gone and aborts the lease.
    await new Promise((resolve) => lease.signal.addEventListener('abort', resolve, { once: true }));
    const error = (() => {
      try {
        sf.nextId();
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(WorkerIdLostError);
    expect((error as WorkerIdLostError).workerId).toBe(0);
    expect(lost).toHaveLength(1);
    await intruder.release();
  });

  it('keeps the lease alive with the watchdog beyond its TTL', async () => {
    const store = new MemoryStore();
    const lease = await leaseWorkerId({ locks: processClient(store, 150), prefix: 'w', max: 1 });
    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 0, workerId: lease });
    // Several TTLs pass through event-loop turns (no sleeping test: wait on renewals).
    const firstExpiry = lease.expiresAt;
    await new Promise<void>((resolve) => {
      const check = () => (lease.expiresAt > firstExpiry + 300 ? resolve() : setTimeout(check, 10));
      check();
    });
    expect(lease.signal.aborted).toBe(false);
    expect(typeof sf.nextId()).toBe('bigint');
    await lease.release();
  });

  it('rejects bad input before any I/O', async () => {
    const locks = {
      tryAcquire: async () => {
        throw new Error('must not be called');
      },
    };
    await expect(leaseWorkerId({ locks, prefix: 'p', max: 0 })).rejects.toBeInstanceOf(
      IdGenArgumentError,
    );
    await expect(leaseWorkerId({ locks, prefix: '', max: 4 })).rejects.toBeInstanceOf(
      IdGenArgumentError,
    );
    await expect(leaseWorkerId({ locks: {} as never, prefix: 'p', max: 4 })).rejects.toBeInstanceOf(
      IdGenArgumentError,
    );
    await expect(leaseWorkerId({ locks, prefix: 'p', max: 4, ttlMs: 0 })).rejects.toBeInstanceOf(
      IdGenArgumentError,
    );
  });
});
