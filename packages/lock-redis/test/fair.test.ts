import { createLockClient, LockArgumentError, type LockBackend } from '@dlock/lock-core';
import { runConformance } from '@dlock/lock-core/testing';
import { requireSharedRedis, SHARED_REDIS, uniquePrefix, waitUntil } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fairKeys } from '../src/fair/fair-keys.js';
import { redisBackend } from '../src/index.js';
import { lockKeys } from '../src/redis-backend.js';

const redis = await requireSharedRedis();

describe.skipIf(!redis.available)('redis fair mode (fair: true)', () => {
  const prefix = uniquePrefix('test:fair-redis:');
  const clients: Redis[] = [];
  const backends: LockBackend[] = [];
  const newClient = () => {
    const client = new Redis({ ...SHARED_REDIS, lazyConnect: false });
    clients.push(client);
    return client;
  };
  /** A fair backend on its own connection: another process, as far as the server can tell. */
  const fairBackend = () => {
    const backend = redisBackend({ client: newClient(), prefix, fair: true });
    backends.push(backend);
    return backend;
  };
  const names = (key: string) => {
    const lock = lockKeys(prefix, key).lock;
    return { lock, channel: lockKeys(prefix, key).channel, ...fairKeys(lock, key) };
  };

  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
    const cleaner = newClient();
    let cursor = '0';
    do {
      const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await cleaner.unlink(...keys);
    } while (cursor !== '0');
    await Promise.all(clients.map((c) => c.quit()));
  });

  // Everything the mutex promises holds in fair mode too.
  runConformance({
    name: 'redis fair',
    createBackend: () => redisBackend({ client: newClient(), prefix, fair: true }),
    runner: { describe, it, beforeAll, afterAll },
    faults: {
      loseFencingState: async (key) => {
        await newClient().del(lockKeys(prefix, key).fence);
      },
    },
  });

  // Not the SPI suite: three of its cases check the unfair contract on purpose (a release
  // announced to anyone refused, a hand-over yielding to an owner that never queued); what fair
  // mode does instead is checked below.

  it('rejects a fair option that is not a boolean, before any I/O', () => {
    expect(() => redisBackend({ client: newClient(), fair: 'yes' as never })).toThrow(
      LockArgumentError,
    );
  });

  it('offers abandon, and no atomic several-keys grant', () => {
    const backend = fairBackend();
    expect(typeof backend.abandon).toBe('function');
    expect(backend.tryAcquireMany).toBeUndefined();
    expect(redisBackend({ client: newClient(), prefix }).abandon).toBeUndefined();
  });

  it('queues only waiting requests, and abandon removes the entry', async () => {
    const key = 'queue-only-waiting';
    const n = names(key);
    const [a, b] = [fairBackend(), fairBackend()];
    expect((await a.tryAcquire({ key, owner: 'a', ttlMs: 5_000 })).acquired).toBe(true);
    const single = await b.tryAcquire({ key, owner: 'single', ttlMs: 5_000 });
    expect(single.acquired).toBe(false);
    expect(await redisCall((r) => r.zcard(n.queue))).toBe(0);
    const waiting = await b.tryAcquire({ key, owner: 'w', ttlMs: 3_000, queue: true });
    // The re-check comes within a third of the waiter lease, so the entry never lapses.
    expect(waiting).toMatchObject({ acquired: false });
    expect((waiting as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(await redisCall((r) => r.zrange(n.queue, 0, -1))).toEqual(['w']);
    expect(await b.abandon!({ key, owner: 'w' })).toBe(true);
    expect(await b.abandon!({ key, owner: 'w' })).toBe(false);
    expect(await redisCall((r) => r.exists(n.queue, n.leases))).toBe(0);
    expect(await a.release({ key, owner: 'a' })).toBe('released');
  });

  it('a release grants the head; its next attempt claims it with the grant token and its own TTL', async () => {
    const key = 'claim';
    const n = names(key);
    const [a, b] = [fairBackend(), fairBackend()];
    await a.tryAcquire({ key, owner: 'a', ttlMs: 5_000 });
    await b.tryAcquire({ key, owner: 'b', ttlMs: 3_000, queue: true });
    expect(await a.release({ key, owner: 'a' })).toBe('released');
    const passed = await a.inspect(key);
    expect(passed).toMatchObject({ owner: 'b', count: 1 });
    expect(passed!.ttlMs).toBeLessThanOrEqual(3_000);
    const claimed = await b.tryAcquire({ key, owner: 'b', ttlMs: 8_000, queue: true });
    expect(claimed).toMatchObject({ acquired: true, reentered: false, ttlMs: 8_000 });
    expect((claimed as { fencingToken: bigint }).fencingToken).toBe(passed!.fencingToken);
    // A claimed grant is a plain hold: asking again re-enters.
    expect(await b.tryAcquire({ key, owner: 'b', ttlMs: 8_000 })).toMatchObject({
      acquired: true,
      reentered: true,
    });
    expect(await redisCall((r) => r.exists(n.queue))).toBe(0);
    expect(await b.release({ key, owner: 'b' })).toBe('decremented');
    expect(await b.release({ key, owner: 'b' })).toBe('released');
    expect(await b.inspect(key)).toBeNull();
  });

  it('a head that gives up after the lock was passed to it passes it on to the next', async () => {
    const key = 'abandon-granted';
    const [a, b, c] = [fairBackend(), fairBackend(), fairBackend()];
    await a.tryAcquire({ key, owner: 'a', ttlMs: 5_000 });
    await b.tryAcquire({ key, owner: 'b', ttlMs: 5_000, queue: true });
    await c.tryAcquire({ key, owner: 'c', ttlMs: 5_000, queue: true });
    await a.release({ key, owner: 'a' });
    expect(await a.inspect(key)).toMatchObject({ owner: 'b' });
    expect(await b.abandon!({ key, owner: 'b' })).toBe(true);
    expect(await a.inspect(key)).toMatchObject({ owner: 'c' });
    expect(await c.tryAcquire({ key, owner: 'c', ttlMs: 5_000 })).toMatchObject({
      acquired: true,
      reentered: false,
    });
    await c.release({ key, owner: 'c' });
  });

  it("a release wakes only the head's process", async () => {
    const key = 'no-herd';
    const n = names(key);
    const [a, b, c, d] = [fairBackend(), fairBackend(), fairBackend(), fairBackend()];
    const woken = { b: 0, c: 0, d: 0 };
    const watches = await Promise.all([
      b.watch!(key, () => woken.b++),
      c.watch!(key, () => woken.c++),
      d.watch!(key, () => woken.d++),
    ]);
    try {
      await a.tryAcquire({ key, owner: 'a', ttlMs: 5_000 });
      await b.tryAcquire({ key, owner: 'b', ttlMs: 5_000, queue: true });
      await c.tryAcquire({ key, owner: 'c', ttlMs: 5_000, queue: true });
      await a.release({ key, owner: 'a' });
      await waitUntil(() => woken.b === 1, { message: "the head's process woke" });
      // A plain message after the release's: each subscriber hears the two in order, so once c
      // and d heard this one, they had heard the release's too, if it had been sent to them.
      await redisCall((r) => r.publish(n.channel, 'released'));
      await waitUntil(() => woken.c === 1 && woken.d === 1, { message: 'the plain message' });
      expect(woken).toEqual({ b: 2, c: 1, d: 1 });
    } finally {
      for (const w of watches) await w.close();
    }
    await b.abandon!({ key, owner: 'b' });
    await c.abandon!({ key, owner: 'c' });
    await c.release({ key, owner: 'c' });
  });

  it('a cohort hand-off goes to the local waiter only when the queue lets it in', async () => {
    const key = 'hand-over';
    const [a, b] = [fairBackend(), fairBackend()];
    await a.tryAcquire({ key, owner: 'a1', ttlMs: 5_000 });
    // Nobody queued: straight to a2.
    const direct = await a.handOver!(
      { key, owner: 'a1' },
      { key, owner: 'a2', ttlMs: 5_000 },
      false,
    );
    expect(direct).toMatchObject({ released: 'released', next: { acquired: true } });
    // b waits on the server: the lock goes to b, and a3 is refused and queued behind it.
    await b.tryAcquire({ key, owner: 'b', ttlMs: 5_000, queue: true });
    const queued = await a.handOver!(
      { key, owner: 'a2' },
      { key, owner: 'a3', ttlMs: 5_000, queue: true },
      false,
    );
    expect(queued).toMatchObject({ released: 'released', next: { acquired: false } });
    expect(await a.inspect(key)).toMatchObject({ owner: 'b' });
    expect(await redisCall((r) => r.zrange(names(key).queue, 0, -1))).toEqual(['b', 'a3']);
    await b.tryAcquire({ key, owner: 'b', ttlMs: 5_000 });
    await b.release({ key, owner: 'b' });
    expect(await a.inspect(key)).toMatchObject({ owner: 'a3' });
    await a.abandon!({ key, owner: 'a3' });
    expect(await a.inspect(key)).toBeNull();
  });

  it('clients on fair backends take turns in arrival order, and a timed-out waiter leaves the queue', async () => {
    const key = 'clients';
    const n = names(key);
    const make = () => createLockClient(fairBackend(), { ttlMs: 3_000 });
    const [x, y, z] = [make(), make(), make()];
    try {
      const held = await x.acquire(key);
      const order: string[] = [];
      const yTurn = y.acquire(key).then(async (lock) => {
        order.push('y');
        await lock.release();
      });
      await waitUntil(async () => (await redisCall((r) => r.zcard(n.queue))) === 1);
      const zGiveUp = z.acquire(key, { waitTimeoutMs: 300 }).catch((e: { code: string }) => e.code);
      await waitUntil(async () => (await redisCall((r) => r.zcard(n.queue))) === 2);
      expect(await zGiveUp).toBe('DLOCK_TIMEOUT');
      await waitUntil(async () => (await redisCall((r) => r.zcard(n.queue))) === 1, {
        message: 'the timed-out waiter left the queue',
      });
      await held.release();
      await yTurn;
      expect(order).toEqual(['y']);
    } finally {
      await Promise.all([x.close(), y.close(), z.close()]);
    }
  });

  let raw: Redis | undefined;
  /** A plain command on a connection of its own, to look at the server's state. */
  async function redisCall<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    raw ??= newClient();
    return fn(raw);
  }
});
