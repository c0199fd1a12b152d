import { randomBytes } from 'node:crypto';
import { type LockBackend, LockBackendError, LockClosedError } from '@dlock/lock-core';
import type { AcquireRequest } from '@dlock/lock-core/spi';
import {
  requireRedisBinaries,
  requireSharedRedis,
  SHARED_REDIS,
  uniquePrefix,
  waitUntil,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_MANY_KEYS } from '../src/acquire-many.js';
import { redisBackend } from '../src/index.js';
import { keySlot } from '../src/key-slot.js';
import { lockKeys } from '../src/redis-backend.js';
import { useRedisCluster } from './helpers/redis-cluster.js';
import { NASTY_KEYS } from './helpers/spi-suite.js';

const redis = await requireSharedRedis();
const binaries = await requireRedisBinaries();

const owner = () => randomBytes(16).toString('hex');
let counter = 0;
const freshKeys = (label: string, n: number) => {
  const run = `${++counter}:${randomBytes(4).toString('hex')}`;
  return Array.from({ length: n }, (_, i) => `many:${label}:${run}:${i}`);
};
const requestsOf = (keys: readonly string[], who: string, ttlMs = 10_000): AcquireRequest[] =>
  keys.map((key) => ({ key, owner: who, ttlMs }));

describe.skipIf(!redis.available)('redis standalone tryAcquireMany (own key prefix)', () => {
  const prefix = uniquePrefix('many');
  const clients: Redis[] = [];
  const backends: LockBackend[] = [];
  const newClient = () => {
    const client = new Redis({ ...SHARED_REDIS });
    clients.push(client);
    return client;
  };
  const backend = (
    options: { waitForReplicas?: number; waitForReplicasTimeoutMs?: number } = {},
  ) => {
    const b = redisBackend({ client: newClient(), prefix, ...options });
    backends.push(b);
    return b;
  };
  const admin = newClient();
  /** Everything of `key` on the server: lock value, fence, waiter flag. */
  const stateOf = async (key: string) => {
    const k = lockKeys(prefix, key);
    return {
      lock: await admin.exists(k.lock),
      fence: await admin.get(k.fence),
      wait: await admin.exists(k.wait),
    };
  };

  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.unlink(...keys);
    } while (cursor !== '0');
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('declares its limit and one group on a single node', () => {
    const b = backend();
    expect(b.capabilities.maxManyKeys).toBe(MAX_MANY_KEYS);
    expect(b.manyGroup!('a')).toBe('');
    expect(b.manyGroup!('🔒 {x}')).toBe('');
  });

  it('grants every free key with a fresh token above the key’s earlier ones', async () => {
    const b = backend();
    const keys = freshKeys('fresh', 3);
    const o = owner();
    const earlier = await b.tryAcquire({ key: keys[1]!, owner: o, ttlMs: 10_000 });
    expect(await b.release({ key: keys[1]!, owner: o })).toBe('released');
    const results = await b.tryAcquireMany!(requestsOf(keys, o));
    expect(results).toHaveLength(3);
    for (const [i, result] of results.entries()) {
      expect(result).toMatchObject({ acquired: true, reentered: false, ttlMs: 10_000 });
      expect(await b.inspect(keys[i]!)).toMatchObject({
        owner: o,
        count: 1,
        fencingToken: (result as { fencingToken: bigint }).fencingToken,
      });
    }
    expect((results[1] as { fencingToken: bigint }).fencingToken).toBeGreaterThan(
      (earlier as { fencingToken: bigint }).fencingToken,
    );
    for (const key of keys) expect(await b.release({ key, owner: o })).toBe('released');
  });

  it('one held key refuses the whole set and leaves the free keys untouched; its release is announced', async () => {
    const [holder, taker] = [backend(), backend()];
    const keys = freshKeys('refused', 4);
    const [h, t] = [owner(), owner()];
    // keys[0] has a history (a fencing counter) but is free; keys[3] never existed.
    await holder.tryAcquire({ key: keys[0]!, owner: h, ttlMs: 10_000 });
    await holder.release({ key: keys[0]!, owner: h });
    expect((await holder.tryAcquire({ key: keys[2]!, owner: h, ttlMs: 10_000 })).acquired).toBe(
      true,
    );
    const before = await Promise.all(keys.map(stateOf));
    let released = 0;
    const watch = await taker.watch!(keys[2]!, () => released++);
    const results = await taker.tryAcquireMany!(requestsOf(keys, t));
    expect(results.map((r) => r.acquired)).toEqual([false, false, false, false]);
    expect(results[2]!.acquired === false && results[2]!.retryAfterMs).toBeGreaterThan(0);
    for (const i of [0, 1, 3]) {
      expect(results[i]).toStrictEqual({ acquired: false });
      // Never taken and given back: no lock, no new token, no waiter flag.
      expect(await stateOf(keys[i]!)).toEqual(before[i]);
    }
    expect((await stateOf(keys[2]!)).wait).toBe(1);
    expect((await taker.inspect(keys[2]!))?.owner).toBe(h);
    expect(await holder.release({ key: keys[2]!, owner: h })).toBe('released');
    await waitUntil(() => released === 1, { message: 'release event for the refused key' });
    await watch.close();
    const now = await taker.tryAcquireMany!(requestsOf(keys, t));
    expect(now.every((r) => r.acquired)).toBe(true);
    for (const key of keys) await taker.release({ key, owner: t });
  });

  it('re-enters keys the owner holds (either shape) beside fresh ones, as tryAcquire does', async () => {
    const b = backend();
    const keys = freshKeys('reenter', 3);
    const o = owner();
    const once = await b.tryAcquire({ key: keys[0]!, owner: o, ttlMs: 5_000 });
    const twice = await b.tryAcquire({ key: keys[1]!, owner: o, ttlMs: 5_000 });
    await b.tryAcquire({ key: keys[1]!, owner: o, ttlMs: 5_000 });
    const results = await b.tryAcquireMany!(requestsOf(keys, o, 20_000));
    expect(results[0]).toEqual({
      acquired: true,
      reentered: true,
      fencingToken: (once as { fencingToken: bigint }).fencingToken,
      ttlMs: 20_000,
    });
    expect(results[1]).toMatchObject({
      acquired: true,
      reentered: true,
      fencingToken: (twice as { fencingToken: bigint }).fencingToken,
    });
    expect(results[2]).toMatchObject({ acquired: true, reentered: false, ttlMs: 20_000 });
    expect((await b.inspect(keys[0]!))?.count).toBe(2);
    expect((await b.inspect(keys[1]!))?.count).toBe(3);
    expect((await b.inspect(keys[0]!))!.ttlMs).toBeGreaterThan(5_000);
    expect(await b.release({ key: keys[0]!, owner: o })).toBe('decremented');
    expect(await b.release({ key: keys[0]!, owner: o })).toBe('released');
    for (const n of ['decremented', 'decremented', 'released']) {
      expect(await b.release({ key: keys[1]!, owner: o })).toBe(n);
    }
    expect(await b.release({ key: keys[2]!, owner: o })).toBe('released');
  });

  it('an expired holder counts as free', async () => {
    const b = backend();
    const keys = freshKeys('expired', 2);
    await b.tryAcquire({ key: keys[0]!, owner: owner(), ttlMs: 1_000 });
    const o = owner();
    await waitUntil(async () => (await b.inspect(keys[0]!)) === null, {
      timeoutMs: 10_000,
      message: 'lease expiry',
    });
    expect((await b.tryAcquireMany!(requestsOf(keys, o))).every((r) => r.acquired)).toBe(true);
    for (const key of keys) await b.release({ key, owner: o });
  });

  it(`takes ${MAX_MANY_KEYS} keys, and keys that look like Lua or break hash tags, in one call`, async () => {
    const b = backend();
    const o = owner();
    for (const keys of [freshKeys('max', MAX_MANY_KEYS), NASTY_KEYS.map((k) => `${prefix}${k}`)]) {
      const results = await b.tryAcquireMany!(requestsOf(keys, o));
      expect(results.filter((r) => r.acquired)).toHaveLength(keys.length);
      for (const key of keys) expect((await b.inspect(key))?.owner).toBe(o);
      for (const key of keys) expect(await b.release({ key, owner: o })).toBe('released');
    }
    expect(await b.tryAcquireMany!([])).toEqual([]);
  });

  it('too few replicas undo every hold of the call and reject with LockBackendError', async () => {
    const b = backend({ waitForReplicas: 1, waitForReplicasTimeoutMs: 50 });
    const keys = freshKeys('replicas', 2);
    const o = owner();
    // keys[0] is held (so the call re-enters it), keys[1] is free (a fresh grant); this server
    // has no replica, so the WAIT falls short and both holds the call added are given back.
    const plain = backend();
    await plain.tryAcquire({ key: keys[0]!, owner: o, ttlMs: 10_000 });
    await expect(b.tryAcquireMany!(requestsOf(keys, o))).rejects.toBeInstanceOf(LockBackendError);
    expect(await plain.inspect(keys[0]!)).toMatchObject({ owner: o, count: 1 });
    expect(await plain.inspect(keys[1]!)).toBeNull();
    expect(await plain.release({ key: keys[0]!, owner: o })).toBe('released');
  });

  it('refuses once closed', async () => {
    const b = backend();
    await b.close();
    await expect(
      b.tryAcquireMany!(requestsOf(freshKeys('closed', 1), owner())),
    ).rejects.toBeInstanceOf(LockClosedError);
  });
});

describe.skipIf(!binaries.available)(
  'redis cluster tryAcquireMany (3 masters started by the test)',
  () => {
    const fixture = useRedisCluster();
    const { newClient } = fixture;

    it('groups keys by slot (zero-padded, so string order is slot order); each group is one atomic call', async () => {
      const b = redisBackend({ client: newClient(), prefix: 'many:' });
      const keys = freshKeys('cluster', 40);
      const groups = new Map<string, string[]>();
      for (const key of keys) {
        const group = b.manyGroup!(key);
        expect(group).toMatch(/^\d{5}$/);
        expect(Number(group)).toBe(keySlot(lockKeys('many:', key).lock));
        groups.set(group, [...(groups.get(group) ?? []), key]);
      }
      expect(groups.size).toBeGreaterThan(1);
      const ordered = [...groups.keys()].sort();
      expect(ordered.map(Number)).toEqual([...ordered.map(Number)].sort((x, y) => x - y));
      const o = owner();
      const rival = owner();
      // Hold one key of the first group: that group is refused as a whole, the others granted.
      const [firstGroup, ...rest] = ordered;
      const firstKeys = groups.get(firstGroup!)!;
      expect(
        (await b.tryAcquire({ key: firstKeys[0]!, owner: rival, ttlMs: 10_000 })).acquired,
      ).toBe(true);
      const refused = await b.tryAcquireMany!(requestsOf(firstKeys, o));
      expect(refused.some((r) => r.acquired)).toBe(false);
      for (const group of rest) {
        const results = await b.tryAcquireMany!(requestsOf(groups.get(group)!, o));
        expect(results.every((r) => r.acquired)).toBe(true);
      }
      for (const group of rest) {
        for (const key of groups.get(group)!)
          expect(await b.release({ key, owner: o })).toBe('released');
      }
      for (const key of firstKeys.slice(1)) expect(await b.inspect(key)).toBeNull();
      expect(await b.release({ key: firstKeys[0]!, owner: rival })).toBe('released');
      await b.close();
    });
  },
);
