import { setTimeout as sleep } from 'node:timers/promises';
import { createLockClient, type Lock, LockBackendError, LockLostError } from '@dlock/lock-core';
import {
  freePort,
  type ManagedProcess,
  recordUnhandledRejections,
  requireRedisBinaries,
  startRedisServer,
  type TestRedisServer,
  waitUntil,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisCommandTimeoutError, redisBackend } from '../src/index.js';

const binaries = await requireRedisBinaries();

describe.skipIf(!binaries.available)('faults (on a redis-server the tests start and stop)', () => {
  let server: TestRedisServer;
  const clients: Redis[] = [];
  const workers: ManagedProcess[] = [];
  let unhandled: ReturnType<typeof recordUnhandledRejections> | undefined;
  const newClient = (port = server.port) => {
    const client = new Redis({ host: '127.0.0.1', port });
    client.on('error', () => {}); // the restarts below make connection errors expected
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startRedisServer();
    unhandled = recordUnhandledRejections();
  });
  afterEach(() => {
    expect(unhandled?.reasons).toEqual([]);
  });
  afterAll(async () => {
    unhandled?.stop();
    await Promise.all(workers.map((w) => w.kill()));
    for (const client of clients) client.disconnect();
    await server?.dispose();
  });

  it('a restart of Redis while `using` holds a lock aborts lock.signal with LockLostError within the TTL', async () => {
    const ttlMs = 600;
    const locks = createLockClient(redisBackend({ client: newClient(), prefix: 'f:' }), { ttlMs });
    let restartedAt = 0;
    let lostAfterMs = Number.NaN;
    let reason: unknown;
    const outcome = await locks
      .using('restart', async (signal: AbortSignal, lock: Lock) => {
        expect(lock.signal).toBe(signal);
        await server.restart(); // no persistence: the lock is gone with the dataset
        restartedAt = performance.now();
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
        lostAfterMs = performance.now() - restartedAt;
        reason = signal.reason;
        return 'finished';
      })
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
    expect(LockLostError.isInstance(reason)).toBe(true);
    expect(lostAfterMs).toBeLessThan(ttlMs);
    // `using` itself ends cleanly or reports the loss; it never crashes the process.
    if ('error' in outcome) expect(LockLostError.isInstance(outcome.error)).toBe(true);
    // The lock is free again on the restarted server.
    const again = await locks.acquire('restart', { waitTimeoutMs: 2_000 });
    await again.release();
    await locks.close();
  });

  it('10 waiters all get the lock in turn after the subscriber connections are killed', async () => {
    const ttlMs = 10_000; // long: a stranded waiter would only be rescued by the 10 s re-check
    const admin = newClient();
    const holderLocks = createLockClient(redisBackend({ client: newClient(), prefix: 'f:' }), {
      ttlMs,
    });
    const waiterClients = Array.from({ length: 5 }, () =>
      createLockClient(redisBackend({ client: newClient(), prefix: 'f:' }), { ttlMs }),
    );
    const held = await holderLocks.acquire('pubsub');
    const order: number[] = [];
    const waiters = Array.from({ length: 10 }, async (_, i) => {
      const lock = await waiterClients[i % 5]!.acquire('pubsub', {
        waitTimeoutMs: 8_000,
        strategy: 'watch',
      });
      order.push(i);
      await sleep(2);
      await lock.release();
    });
    // One subscriber connection per backend, however many waiters.
    const subscribers = async () =>
      ((await admin.client('LIST')) as string)
        .split('\n')
        .filter((l) => l.includes('name=dlock-subscriber')).length;
    await waitUntil(async () => (await subscribers()) === 5, {
      message: '5 subscriber connections',
    });
    const channel = (await admin.pubsub('CHANNELS', 'f:*')) as string[];
    expect(channel).toHaveLength(1);
    expect(await admin.client('KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(5);
    // Release at once, while the subscribers may still be reconnecting: the event can be lost,
    // and the resubscribe must make the waiters re-check.
    await held.release();
    await Promise.all(waiters);
    expect(order.sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    await holderLocks.close();
    await Promise.all(waiterClients.map((c) => c.close()));
  });

  it('an unreachable Redis gives LockBackendError with the driver error as cause, promptly', async () => {
    const deadPort = await freePort();
    const client = newClient(deadPort);
    const locks = createLockClient(redisBackend({ client, prefix: 'f:' }), { ttlMs: 1_000 });
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const error = await locks.acquire('down', { waitTimeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(performance.now() - started).toBeLessThan(3_000);
      expect(LockBackendError.isInstance(error)).toBe(true);
      const cause = (error as Error).cause as NodeJS.ErrnoException;
      expect(cause).toBeInstanceOf(Error);
      expect(cause).not.toBeInstanceOf(RedisCommandTimeoutError);
      expect(cause.code).toBe('ECONNREFUSED');
    }
    await locks.close();
  });

  it('waitForReplicas: a grant acknowledged by a real replica succeeds', async () => {
    const admin = newClient();
    // Our own server (never 6379): start the replica's full sync at once, not after 5 s.
    await admin.config('SET', 'repl-diskless-sync-delay', '0');
    const replica = await startRedisServer({
      args: ['--replicaof', '127.0.0.1', String(server.port)],
    });
    try {
      await waitUntil(async () => /slave0:.*state=online/.test(await admin.info('replication')), {
        message: 'replica online',
      });
      const backend = redisBackend({
        client: newClient(),
        prefix: 'f:',
        waitForReplicas: 1,
        waitForReplicasTimeoutMs: 1_000,
      });
      const grant = await backend.tryAcquire({ key: 'replicated', owner: 'o', ttlMs: 5_000 });
      expect(grant.acquired).toBe(true);
      // The replica has the lock too: a failover right now would not lose it.
      const onReplica = newClient(replica.port);
      expect(await onReplica.exists(...(await onReplica.keys('f:*:lock:replicated')))).toBe(1);
      expect(await backend.release({ key: 'replicated', owner: 'o' })).toBe('released');
      await backend.close();
    } finally {
      await replica.dispose();
    }
  });

  it('a server that stops answering mid-command fails after commandTimeoutMs, not never', async () => {
    const admin = newClient();
    const backend = redisBackend({ client: newClient(), prefix: 'f:', commandTimeoutMs: 200 });
    await backend.inspect('warm-up'); // connected and ready
    await admin.client('PAUSE', 1_000, 'ALL');
    const error = await backend
      .tryAcquire({ key: 'paused', owner: 'o', ttlMs: 1_000 })
      .catch((e) => e);
    // A timeout error proves it gave up while the server was still paused (after the pause the
    // command would have succeeded); no wall-clock bound needed.
    expect(LockBackendError.isInstance(error)).toBe(true);
    expect((error as Error).cause).toBeInstanceOf(RedisCommandTimeoutError);
    await admin.client('UNPAUSE');
    await backend.close();
  });
});
