/**
 * The lease mechanism on the shared single node: every lock of one TTL class in a backend shares
 * one lease of that TTL, renewals keep it alive with one keep-alive per batch, a lock that is not
 * renewed still loses its key, and a queued waiter keeps its place for longer than a TTL.
 */
import { createLockClient, type LockClient } from '@dlock/lock-core';
import { waitUntil } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import type { EtcdClientLike, EtcdDriver } from '../src/driver.js';
import { createEtcdBackend } from '../src/etcd-backend.js';
import { createEtcd3Driver } from '../src/etcd3-driver.js';
import { ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

/** etcd checks for expired leases every 500 ms; its clock and ours tick separately. */
const LEASE_EXPIRY_SLACK_MS = 1_500;

/** The etcd3 driver, counting the calls made through it by method. */
function countingDriver(client: EtcdClientLike): {
  driver: EtcdDriver;
  calls: Map<string, number>;
} {
  const inner = createEtcd3Driver(client, 5_000);
  const calls = new Map<string, number>();
  const driver = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  });
  return { driver, calls };
}

describe.skipIf(!etcd.available)('leases', () => {
  const client = new Etcd3({ hosts: ETCD_URL });
  const prefix = runPrefix('leases');
  const clients: LockClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    expect(await client.getAll().prefix(prefix).keys()).toEqual([]);
    client.close();
  });
  const kvs = async (key: string) =>
    (await client.getAll().prefix(`${prefix}${key}/`).sort('Create', 'Ascend').exec()).kvs;

  it('renews 2,000 locks of one TTL with one keep-alive, not one per lock or per batch', async () => {
    const { driver, calls } = countingDriver(client as unknown as EtcdClientLike);
    const backend = createEtcdBackend({ driver, prefix });
    try {
      const requests = Array.from({ length: 2_000 }, (_, i) => ({
        key: `many-${i}`,
        owner: 'many-owner',
        // Long enough that no lock expires while 2,000 are acquired on a busy machine.
        ttlMs: 30_000,
      }));
      for (let i = 0; i < requests.length; i += 100) {
        const grants = await Promise.all(
          requests.slice(i, i + 100).map((r) => backend.tryAcquire(r)),
        );
        expect(grants.filter((g) => !g.acquired)).toEqual([]);
      }
      // Every key is on the one lease of the 30 s class.
      const leases = new Set<string>();
      for (let i = 0; i < requests.length; i += 500) {
        const [kv] = await kvs(`many-${i}`);
        leases.add(String(kv!.lease));
      }
      expect(leases.size).toBe(1);
      expect(calls.get('grantLease')).toBe(1);

      calls.clear();
      // As the watchdog sends them: concurrent batches of 250.
      const batches: (typeof requests)[] = [];
      for (let i = 0; i < requests.length; i += 250) batches.push(requests.slice(i, i + 250));
      const results = (await Promise.all(batches.map((b) => backend.extendMany!(b)))).flat();
      // Renewed for the full TTL, or (sharing a keep-alive sent a moment before the call) for
      // what the lease covers: at most a twentieth of the TTL less.
      const covered = results.map((r) => (r === true ? 30_000 : r === false ? 0 : r.ttlMs));
      expect(Math.min(...covered)).toBeGreaterThanOrEqual(28_499);
      // One keep-alive for the lease (none if the last grant's was sent just before), and one
      // ownership read per batch (the driver splits it into transactions of 100 reads).
      expect(calls.get('keepAlive') ?? 0).toBeLessThanOrEqual(1);
      expect(calls.get('getMany')).toBe(batches.length);
      expect(calls.get('grantLease')).toBeUndefined();

      for (let i = 0; i < requests.length; i += 100) {
        await Promise.all(requests.slice(i, i + 100).map((r) => backend.release(r)));
      }
    } finally {
      await backend.close();
    }
  });

  it('refuses a tryAcquire on a held lock in one transaction that writes and deletes nothing', async () => {
    const holder = etcdBackend();
    const { driver, calls } = countingDriver(client as unknown as EtcdClientLike);
    const other = createEtcdBackend({ driver, prefix });
    try {
      const request = { key: 'refused', owner: 'holder', ttlMs: 5_000 };
      expect((await holder.tryAcquire(request)).acquired).toBe(true);
      const before = await kvs(request.key);
      calls.clear();
      for (let i = 0; i < 3; i++) {
        expect((await other.tryAcquire({ ...request, owner: 'other' })).acquired).toBe(false);
      }
      // No key put and deleted again, so no deletion event wakes the lock's watchers: watching
      // waiters that retry would otherwise keep waking one another while the lock is held.
      expect(calls.get('enqueueIfFree')).toBe(3);
      expect(calls.get('enqueue')).toBeUndefined();
      expect(calls.get('deleteIfCreateRevision')).toBeUndefined();
      expect((await kvs(request.key)).map((kv) => kv.mod_revision)).toEqual(
        before.map((kv) => kv.mod_revision),
      );
      expect(await holder.release(request)).toBe('released');
      expect((await other.tryAcquire({ ...request, owner: 'other' })).acquired).toBe(true);
      expect(await other.release({ ...request, owner: 'other' })).toBe('released');
    } finally {
      await Promise.all([holder.close(), other.close()]);
    }
  });

  it('deletes the key of a lock left unrenewed within its TTL while its lease neighbour is renewed', async () => {
    const backend = etcdBackend();
    try {
      const renewed = { key: 'neighbour-renewed', owner: 'o', ttlMs: 2_000 };
      const abandoned = { key: 'neighbour-abandoned', owner: 'o', ttlMs: 2_000 };
      expect((await backend.tryAcquire(renewed)).acquired).toBe(true);
      const acquiredAt = performance.now();
      expect((await backend.tryAcquire(abandoned)).acquired).toBe(true);
      const [renewedKv] = await kvs(renewed.key);
      const [abandonedKv] = await kvs(abandoned.key);
      expect(String(abandonedKv!.lease)).toBe(String(renewedKv!.lease));
      // Renew the neighbour (as the watchdog would, every third of the TTL) until the abandoned
      // lock's key is gone on the server.
      await waitUntil(
        async () => {
          expect(await backend.extend(renewed)).not.toBe(false);
          return (await kvs(abandoned.key)).length === 0;
        },
        {
          intervalMs: 600,
          timeoutMs: abandoned.ttlMs + LEASE_EXPIRY_SLACK_MS,
          message: 'the abandoned key deleted',
        },
      );
      expect(performance.now() - acquiredAt).toBeGreaterThanOrEqual(abandoned.ttlMs - 50);
      // The neighbour's key, on the same lease, is still there.
      expect((await kvs(renewed.key)).map((kv) => kv.create_revision)).toEqual([
        renewedKv!.create_revision,
      ]);
      expect(await backend.extend(abandoned)).toBe(false);
      expect(await backend.release(renewed)).toBe('released');
    } finally {
      await backend.close();
    }
  });

  it('moves a lock renewed for longer than it was acquired for to a lease of the longer TTL', async () => {
    const backend = etcdBackend();
    try {
      const request = { key: 'longer', owner: 'o', ttlMs: 2_000 };
      const grant = await backend.tryAcquire(request);
      expect(grant.acquired).toBe(true);
      const [before] = await kvs(request.key);
      expect(await backend.extend({ ...request, ttlMs: 5_000 })).not.toBe(false);
      const after = await kvs(request.key);
      // The same key, queue place and fencing token, on a 5 s lease.
      expect(after.map((kv) => [String(kv.key), kv.create_revision])).toEqual([
        [String(before!.key), before!.create_revision],
      ]);
      expect(String(after[0]!.lease)).not.toBe(String(before!.lease));
      const lease = await client.leaseClient.leaseTimeToLive({ ID: String(after[0]!.lease) });
      expect(Number(lease.grantedTTL)).toBe(5);
      expect(await backend.release(request)).toBe('released');
    } finally {
      await backend.close();
    }
  });

  it('keeps a queued waiter in its place for longer than its TTL while its process lives', async () => {
    const ttlMs = 2_000;
    const holder = createLockClient(etcdBackend(), { ttlMs });
    const waiter = createLockClient(etcdBackend(), { ttlMs });
    clients.push(holder, waiter);
    const key = 'long-wait';
    const held = await holder.acquire(key, { autoExtend: true });
    const waiting = waiter.acquire(key, { waitTimeoutMs: 30_000 });
    const queued = await waitUntil(async () => (await kvs(key))[1], { message: 'waiter queued' });
    // Nothing renews the waiter's lease but its background keep-alive.
    await new Promise((resolve) => setTimeout(resolve, 2.5 * ttlMs));
    const [, still] = await kvs(key);
    expect(still?.create_revision).toBe(queued.create_revision);
    await held.release();
    const lock = await waiting;
    expect(lock.fencingToken).toBe(BigInt(queued.create_revision));
    await lock.release();
  });

  function etcdBackend() {
    return createEtcdBackend({
      driver: createEtcd3Driver(client as unknown as EtcdClientLike, 5_000),
      prefix,
    });
  }
});
