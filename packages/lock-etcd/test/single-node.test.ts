/**
 * Behaviour beyond the conformance kit on the shared single node: sessions, the key layout,
 * FIFO order across processes, batching, and connect().
 */
import {
  createLockClient,
  LockArgumentError,
  type LockClient,
  LockLostError,
} from '@dlock/lock-core';
import { waitUntil } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { connectBackend, etcdBackend } from '../src/index.js';
import { ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

describe.skipIf(!etcd.available)('single node', () => {
  const client = new Etcd3({ hosts: ETCD_URL });
  const prefix = runPrefix('single');
  const clients: LockClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    // Everything this run created is gone: holds released, waiters withdrawn, sessions revoked.
    expect(await client.getAll().prefix(prefix).keys()).toEqual([]);
    client.close();
  });
  const locks = (sessionTtlMs = 10_000): LockClient => {
    const c = createLockClient(etcdBackend({ client, prefix, sessionTtlMs }), { ttlMs: 3_000 });
    clients.push(c);
    return c;
  };
  const queue = async (key: string) =>
    (await client.getAll().prefix(`${prefix}${key}/`).sort('Create', 'Ascend').keys()).map(String);
  // `<queue><lease hex>_<sequence hex>`
  const leaseOf = (etcdKey: string) =>
    BigInt(`0x${etcdKey.slice(etcdKey.lastIndexOf('/') + 1).split('_')[0]}`);

  it('grants in queue order across backends (FIFO by create revision)', async () => {
    const key = 'fifo';
    const holder = locks();
    const first = await holder.acquire(key);
    const order: number[] = [];
    const waiters = [locks(), locks(), locks(), locks()];
    const done: Promise<void>[] = [];
    for (const [i, w] of waiters.entries()) {
      done.push(
        w.using(key, async () => {
          order.push(i);
        }),
      );
      // Queue them one after another so their create revisions are in this order.
      await waitUntil(async () => (await queue(key)).length === i + 2);
    }
    await first.release();
    await Promise.all(done);
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('takes a refused tryAcquire, a timed-out and an aborted waiter out of the queue at once', async () => {
    const key = 'withdraw';
    // The core rejects a wait as soon as it times out or is aborted, while the backend's delete
    // is on its way: "at once" is one round trip, far below the TTLs that would otherwise free it.
    const dequeued = () =>
      waitUntil(async () => (await queue(key)).length === 1, {
        timeoutMs: 1_000,
        message: 'waiter key deleted',
      });
    const holder = await locks().acquire(key);
    const other = locks();
    expect(await other.tryAcquire(key)).toBeNull();
    expect(await queue(key)).toHaveLength(1);
    await expect(other.acquire(key, { waitTimeoutMs: 1_000 })).rejects.toMatchObject({
      code: 'DLOCK_TIMEOUT',
    });
    await dequeued();
    const controller = new AbortController();
    const waiting = other.acquire(key, { signal: controller.signal });
    await waitUntil(async () => (await queue(key)).length === 2);
    const reason = new Error('gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await dequeued();
    await holder.release();
    expect(await queue(key)).toHaveLength(0);
  });

  it('reports every lock of a revoked session lost, and acquires again on a new session', async () => {
    const key = 'revoked';
    const a = locks(3_000);
    const lock = await a.acquire(key, { autoExtend: true });
    const [etcdKey] = await queue(key);
    await client.leaseClient.leaseRevoke({ ID: leaseOf(etcdKey!).toString() });
    await waitUntil(() => lock.signal.aborted, { timeoutMs: 5_000, message: 'lost' });
    expect(LockLostError.isInstance(lock.signal.reason)).toBe(true);
    expect((lock.signal.reason as LockLostError).reason).toBe('not-held');
    const again = await a.acquire(key);
    const [newKey] = await queue(key);
    expect(leaseOf(newKey!)).not.toBe(leaseOf(etcdKey!));
    expect(again.fencingToken).toBeGreaterThan(lock.fencingToken);
    await again.release();
  });

  it('a waiter whose session expired does not believe it holds: it queues again', async () => {
    const key = 'waiter-session';
    const holder = locks();
    const held = await holder.acquire(key, { autoExtend: true });
    const waiter = locks(3_000);
    const waiting = waiter.acquire(key, { waitTimeoutMs: 30_000 });
    await waitUntil(async () => (await queue(key)).length === 2);
    const [, waiterKey] = await queue(key);
    await client.leaseClient.leaseRevoke({ ID: leaseOf(waiterKey!).toString() });
    // It re-queues on a fresh session, still behind the holder.
    await waitUntil(async () => {
      const keys = await queue(key);
      return keys.length === 2 && keys[1] !== waiterKey;
    });
    expect(held.signal.aborted).toBe(false);
    await held.release();
    const lock = await waiting;
    expect(lock.fencingToken).toBeGreaterThan(held.fencingToken);
    await lock.release();
  });

  it('shares one hold between backends that use the same explicit owner', async () => {
    const [a, b] = [
      etcdBackend({ client, prefix, sessionTtlMs: 10_000 }),
      etcdBackend({ client, prefix, sessionTtlMs: 10_000 }),
    ];
    try {
      const request = { key: 'shared-owner', owner: 'shared-owner-x', ttlMs: 3_000 };
      const first = await a.tryAcquire(request);
      const second = await b.tryAcquire(request);
      expect(first.acquired && second.acquired).toBe(true);
      expect(second.acquired && second.reentered).toBe(true);
      expect(second.acquired && second.fencingToken).toBe(first.acquired && first.fencingToken);
      expect((await b.inspect(request.key))?.count).toBe(2);
      expect(await b.extend(request)).toBe(true);
      expect(await b.extend({ ...request, owner: 'someone-else' })).toBe(false);
      expect(await b.release(request)).toBe('decremented');
      expect(await a.release(request)).toBe('released');
      expect(await b.release(request)).toBe('not-held');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('gives each waitAcquire of one backend its own etcd key and serves them FIFO', async () => {
    // Several waits per key on one backend: two clients sharing it, or one client's re-entry.
    const key = 'local-fifo';
    const holder = await locks().acquire(key);
    const backend = etcdBackend({ client, prefix });
    const never = new AbortController().signal;
    const order: number[] = [];
    const waits = [0, 1, 2].map(async (i) => {
      // Queued one after another, so their create revisions are in this order.
      await waitUntil(async () => (await queue(key)).length === i + 1);
      const owner = `local-fifo-${i}`;
      const grant = await backend.waitAcquire!({
        key,
        owner,
        ttlMs: 3_000,
        timeoutMs: 30_000,
        signal: never,
      });
      order.push(i);
      expect(grant.acquired).toBe(true);
      await backend.release({ key, owner });
    });
    await waitUntil(async () => (await queue(key)).length === 4);
    const keys = await queue(key);
    // One key per waiter, all on the one lease of the TTL, each under its own sequence number.
    expect(new Set(keys).size).toBe(4);
    expect(new Set(keys.slice(1).map(leaseOf)).size).toBe(1);
    for (const k of keys) expect(k).toMatch(/\/[0-9a-f]+_[0-9a-f]+$/);
    await holder.release();
    await Promise.all(waits);
    expect(order).toEqual([0, 1, 2]);
    expect(await queue(key)).toEqual([]);
    await backend.close();
  });

  it("lines up one client's waiters in the core: one etcd key per client and key", async () => {
    const key = 'client-line';
    const holder = await locks().acquire(key);
    const b = locks();
    const order: number[] = [];
    const done = [0, 1, 2].map((i) => b.using(key, async () => void order.push(i)));
    await waitUntil(async () => (await queue(key)).length === 2);
    const controller = new AbortController();
    const aborted = b.acquire(key, { signal: controller.signal });
    controller.abort(new Error('left the line'));
    await expect(aborted).rejects.toThrow('left the line');
    // Only the head of the client's line is queued at etcd, behind the holder.
    expect((await queue(key)).length).toBe(2);
    await holder.release();
    await Promise.all(done);
    expect(order).toEqual([0, 1, 2]);
    expect(await queue(key)).toEqual([]);
  });

  it('deletes the etcd key of a wait that is aborted or times out, and keeps the others', async () => {
    const key = 'local-abort';
    const holder = await locks().acquire(key);
    const backend = etcdBackend({ client, prefix });
    const never = new AbortController().signal;
    const request = (owner: string, timeoutMs: number, signal: AbortSignal) =>
      backend.waitAcquire!({ key, owner, ttlMs: 3_000, timeoutMs, signal });
    const first = request('first', 30_000, never);
    await waitUntil(async () => (await queue(key)).length === 2);
    const controller = new AbortController();
    const aborted = request('aborted', 30_000, controller.signal);
    await waitUntil(async () => (await queue(key)).length === 3);
    const [holderKey, firstKey, abortedKey] = await queue(key);
    controller.abort(new Error('left the queue'));
    await expect(aborted).rejects.toThrow('left the queue');
    await waitUntil(async () => (await queue(key)).length === 2, {
      message: 'aborted key deleted',
    });
    expect(await queue(key)).toEqual([holderKey, firstKey]);
    expect(await queue(key)).not.toContain(abortedKey);
    expect(await request('timed-out', 300, never)).toEqual({ acquired: false });
    await waitUntil(async () => (await queue(key)).length === 2, {
      message: 'timed-out key deleted',
    });
    expect(await queue(key)).toEqual([holderKey, firstKey]);
    await holder.release();
    expect((await first).acquired).toBe(true);
    await backend.release({ key, owner: 'first' });
    expect(await queue(key)).toEqual([]);
    await backend.close();
  });

  it('force-releases the holder whoever it is, waking the next waiter', async () => {
    const key = 'force';
    const a = locks();
    const held = await a.acquire(key);
    const waiting = locks().acquire(key, { waitTimeoutMs: 30_000 });
    await waitUntil(async () => (await queue(key)).length === 2);
    const [holderKey, waiterKey] = await queue(key);
    const operator = locks();
    expect(await operator.forceRelease(key)).toBe(true);
    const next = await waiting;
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    expect(await queue(key)).toEqual([waiterKey]);
    expect(await queue(key)).not.toContain(holderKey);
    // The old holder learns of it at its next renewal.
    await expect(held.extend()).rejects.toMatchObject({ code: 'DLOCK_NOT_HELD' });
    await next.release();
    expect(await operator.forceRelease(key)).toBe(false);
  });

  it('keeps lock names that nest under one another apart (a and a/b)', async () => {
    const a = locks();
    const b = locks();
    const outer = await a.acquire('nest');
    const inner = await b.acquire('nest/inner', { waitTimeoutMs: 0 });
    expect(await b.tryAcquire('nest')).toBeNull();
    await outer.release();
    const next = await b.acquire('nest', { waitTimeoutMs: 0 });
    await Promise.all([inner.release(), next.release()]);
  });

  it('renews many locks in batched transactions (extendMany)', async () => {
    const backend = etcdBackend({ client, prefix, sessionTtlMs: 10_000 });
    try {
      const requests = Array.from({ length: 150 }, (_, i) => ({
        key: `batch-${i}`,
        owner: 'batch-owner',
        // Long enough that none expires while 150 are acquired one by one on a busy machine.
        ttlMs: 10_000,
      }));
      for (const r of requests) expect((await backend.tryAcquire(r)).acquired).toBe(true);
      const results = await backend.extendMany!([
        ...requests,
        { key: 'batch-never-held', owner: 'batch-owner', ttlMs: 10_000 },
      ]);
      // Renewed, for the full TTL or (sharing a keep-alive sent a moment before the call) for
      // what the lease covers, which is at most a twentieth of the TTL less.
      for (const result of results.slice(0, -1)) {
        if (result !== true) expect(result).toEqual({ ttlMs: expect.any(Number) });
        if (typeof result === 'object') expect(result.ttlMs).toBeGreaterThanOrEqual(9_499);
      }
      expect(results.at(-1)).toBe(false);
      for (const r of requests) expect(await backend.release(r)).toBe('released');
    } finally {
      await backend.close();
    }
  });

  it('puts a lock on a lease of its own TTL rounded up to seconds, whatever sessionTtlMs says', async () => {
    const backend = etcdBackend({ client, prefix, sessionTtlMs: 5_000 });
    try {
      const long = await backend.tryAcquire({ key: 'long', owner: 'o', ttlMs: 5_001 });
      expect(long.acquired).toBe(true);
      const started = performance.now();
      const grant = await backend.tryAcquire({ key: 'round', owner: 'o', ttlMs: 1_200 });
      const elapsed = performance.now() - started;
      // Rounded up to whole seconds, and counted from the call (so the call's own time is added).
      expect(grant.acquired && grant.ttlMs).toBeGreaterThanOrEqual(2_000);
      expect(grant.acquired && grant.ttlMs).toBeLessThanOrEqual(2_000 + Math.ceil(elapsed) + 1);
      const granted = async (key: string) => {
        const [kv] = (await client.getAll().prefix(`${prefix}${key}/`).exec()).kvs;
        const lease = await client.leaseClient.leaseTimeToLive({ ID: String(kv!.lease) });
        return Number(lease.grantedTTL);
      };
      expect(await granted('long')).toBe(6);
      // etcd's minimum lease TTL is 2 s with its default election timeout.
      expect(await granted('round')).toBe(2);
      expect(await backend.release({ key: 'long', owner: 'o' })).toBe('released');
      expect(await backend.release({ key: 'round', owner: 'o' })).toBe('released');
    } finally {
      await backend.close();
    }
  });

  describe('connectBackend (connect("etcd://…"))', () => {
    it('builds a working backend that owns and closes its client', async () => {
      const url = new URL(`etcd://127.0.0.1:2379?prefix=${encodeURIComponent(prefix)}`);
      const backend = await connectBackend(url, { sessionTtlMs: 5_000 });
      const c = createLockClient(backend, { ttlMs: 2_000 });
      const lock = await c.acquire('connect');
      expect((await queue('connect')).length).toBe(1);
      await lock.release();
      await c.close();
      await backend.close(); // idempotent
      expect(await queue('connect')).toEqual([]);
    });

    it('rejects other schemes and bad options before connecting', async () => {
      await expect(connectBackend(new URL('redis://x'), {})).rejects.toBeInstanceOf(
        LockArgumentError,
      );
      await expect(
        connectBackend(new URL('etcd://127.0.0.1:2379?sessionTtlMs=soon'), {}),
      ).rejects.toBeInstanceOf(LockArgumentError);
      await expect(
        connectBackend(new URL('etcd://127.0.0.1:2379'), { sessionTtl: 5 }),
      ).rejects.toBeInstanceOf(LockArgumentError);
    });
  });
});
