import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import {
  type ManagedProcess,
  requireSharedRedis,
  SHARED_REDIS,
  spawnNodeWorker,
  uniquePrefix,
  waitUntil,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fairKeys } from '../src/fair/fair-keys.js';
import { redisBackend } from '../src/index.js';
import { lockKeys } from '../src/redis-backend.js';

const redis = await requireSharedRedis();
/** Waiter leases (each waiter's `ttlMs`): generous, the machine is loaded during CI. */
const TTL_MS = 1_500;

describe.skipIf(!redis.available)('fair mode across processes', () => {
  const prefix = uniquePrefix('test:fair-redis:procs:');
  const workers: ManagedProcess[] = [];
  let raw: Redis;
  let locks: LockClient;

  beforeAll(() => {
    raw = new Redis(SHARED_REDIS);
    locks = createLockClient(redisBackend({ client: raw, prefix, fair: true }), {
      ttlMs: TTL_MS,
    });
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await locks?.close();
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await raw.unlink(...keys);
    } while (cursor !== '0');
    await raw?.quit();
  });

  const names = (key: string) => {
    const lock = lockKeys(prefix, key).lock;
    return { lock, ...fairKeys(lock, key) };
  };

  /** Starts a waiter process for `key` and resolves once the server queued it (at `position`). */
  async function queueWaiter(
    key: string,
    position: number,
    ttlMs = TTL_MS,
  ): Promise<ManagedProcess> {
    const worker = await spawnNodeWorker(
      fileURLToPath(new URL('./workers/fair-waiter.ts', import.meta.url)),
      {
        name: `fair-waiter-${key}-${position}`,
        env: {
          REDIS_URL: `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}`,
          LOCK_PREFIX: prefix,
          KEY: key,
          TTL_MS: String(ttlMs),
          HOLD_MS: '20',
        },
        readyWhen: /ready/,
        readyTimeoutMs: 30_000,
      },
    );
    workers.push(worker);
    const { queue } = names(key);
    await waitUntil(async () => (await raw.zcard(queue)) === position, {
      timeoutMs: 30_000,
      message: `${worker.name} queued`,
    });
    return worker;
  }

  const tokenOf = async (worker: ManagedProcess): Promise<bigint> =>
    BigInt((await worker.waitForOutput(/granted (\d+)/, 60_000))[1]!);

  it('8 processes queued on one key are granted in queue order', async () => {
    const key = 'order';
    const holder = await locks.acquire(key, { autoExtend: true });
    const queued: ManagedProcess[] = [];
    for (let i = 1; i <= 8; i++) queued.push(await queueWaiter(key, i));
    const order = await raw.zrange(names(key).queue, 0, -1);
    expect(order).toHaveLength(8);
    await holder.release();
    // Grant order is token order: each grant takes a larger token than every earlier one.
    const tokens = await Promise.all(queued.map(tokenOf));
    await Promise.all(queued.map((w) => w.exited));
    const byGrant = [...tokens.keys()].sort((a, b) => (tokens[a]! < tokens[b]! ? -1 : 1));
    console.log(`fair order: processes granted in the order ${byGrant.map((i) => i + 1)}`);
    expect(byGrant).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await raw.exists(names(key).queue, names(key).lock)).toBe(0);
  }, 120_000);

  it('a SIGKILLed head delays the next waiter by at most its waiter lease', async () => {
    const key = 'killed-head';
    const n = names(key);
    const holder = await locks.acquire(key, { autoExtend: true });
    const head = await queueWaiter(key, 1);
    const next = await queueWaiter(key, 2);
    await head.kill();
    const released = performance.now();
    await holder.release();
    // The release passed the lock to the dead head, for no longer than the rest of its waiter
    // lease (the server's bound, read from the server), and the next waiter was not dropped.
    const dead = await raw.pttl(n.lock);
    expect(dead).toBeGreaterThan(0);
    expect(dead).toBeLessThanOrEqual(TTL_MS);
    expect(await raw.zcard(n.queue)).toBe(2);
    const token = await tokenOf(next);
    console.log(
      `fair killed head: the next waiter got the lock ${Math.round(performance.now() - released)} ms after the release (dead head's grant: ${dead} ms, waiter lease ${TTL_MS} ms), token ${token}`,
    );
    await next.exited;
  }, 120_000);

  it('a waiter queued for 10x its waiter lease is never purged and is served first', async () => {
    const key = 'long-wait';
    const n = names(key);
    const holder = await locks.acquire(key, { autoExtend: true });
    const patient = await queueWaiter(key, 1);
    const member = (await raw.zrange(n.queue, 0, 0))[0]!;
    // The holder keeps renewing; the waiter keeps renewing its entry by its own re-checks.
    let checks = 0;
    for (const until = performance.now() + 10 * TTL_MS; performance.now() < until; checks++) {
      expect(await raw.zrank(n.queue, member)).toBe(0);
      await sleep(100);
    }
    const later = await queueWaiter(key, 2);
    await holder.release();
    const [first, second] = [await tokenOf(patient), await tokenOf(later)];
    console.log(
      `fair long wait: queued ${10 * TTL_MS} ms (${checks} checks of its entry), then served first`,
    );
    expect(first < second).toBe(true);
    await Promise.all([patient.exited, later.exited]);
  }, 120_000);

  it('tryAcquire and zero-wait acquire never barge past a live queued waiter, even on a free lock', async () => {
    const key = 'no-barging';
    const n = names(key);
    // The holder's lease simply runs out (no renewal, no release; cut short on the server, as a
    // dead holder's would), while the only waiter is stopped and cannot ask: the lock is free
    // and the queue not empty. The waiter's lease (5 s) outlives the steps below.
    await locks.acquire(key, { autoExtend: false, ttlMs: 60_000 });
    const waiter = await queueWaiter(key, 1, 5_000);
    waiter.child.kill('SIGSTOP');
    try {
      await raw.pexpire(n.lock, 100);
      await waitUntil(async () => (await raw.exists(n.lock)) === 0, {
        timeoutMs: 10_000,
        message: 'the holder lease ran out',
      });
      expect(await raw.zcard(n.queue)).toBe(1);
      const other = createLockClient(redisBackend({ client: raw, prefix, fair: true }), {
        ttlMs: TTL_MS,
      });
      try {
        expect(await other.tryAcquire(key)).toBeNull();
        await expect(other.acquire(key, { waitTimeoutMs: 0 })).rejects.toMatchObject({
          code: 'DLOCK_TIMEOUT',
        });
      } finally {
        await other.close();
      }
      // The refused attempt found the lock free and passed it to the stopped head instead.
      expect(await raw.get(n.lock)).toBe((await raw.zrange(n.queue, 0, 0))[0]);
    } finally {
      waiter.child.kill('SIGCONT');
    }
    const token = await tokenOf(waiter);
    console.log(`fair no barging: the stopped head got the lock once resumed, token ${token}`);
    await waiter.exited;
  }, 120_000);
});
