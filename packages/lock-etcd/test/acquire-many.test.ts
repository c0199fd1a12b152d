/**
 * `tryAcquireMany` on etcd's queue layout: one transaction, all or nothing, and a queue that
 * holds only nested lock names' keys is free (as it is for `tryAcquire`).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { etcd, useEtcd } from './helpers/etcd.js';

describe.skipIf(!etcd.available)('tryAcquireMany on etcd', () => {
  const { client, prefix, backend } = useEtcd('many');
  const owner = () => randomBytes(16).toString('hex');
  const base = () => `m-${randomBytes(4).toString('hex')}`;
  const allKeys = async () => (await client.getAll().prefix(prefix).keys()).map(String).sort();

  it('takes a key whose queue holds only a nested lock name’s key', async () => {
    const [a, b] = [backend(), backend()];
    const k = base();
    const nested = { key: `${k}/inner`, owner: owner(), ttlMs: 10_000 };
    expect((await a.tryAcquire(nested)).acquired).toBe(true);
    const who = owner();
    const set = [`${k}`, `${k}-z`].map((key) => ({ key, owner: who, ttlMs: 10_000 }));
    const results = await b.tryAcquireMany!(set);
    expect(results.map((r) => r.acquired)).toEqual([true, true]);
    expect((await a.inspect(k))?.owner).toBe(who);
    expect((await a.inspect(nested.key))?.owner).toBe(nested.owner);
    for (const r of [...set, nested])
      expect(await (r === nested ? a : b).release(r)).toBe('released');
  });

  it('a refused set writes nothing: the only key left is the holder’s', async () => {
    const [a, b] = [backend(), backend()];
    const k = base();
    const held = { key: `${k}:2`, owner: owner(), ttlMs: 10_000 };
    expect((await a.tryAcquire(held)).acquired).toBe(true);
    const before = await allKeys();
    const who = owner();
    const set = [`${k}:1`, `${k}:2`, `${k}:3`].map((key) => ({ key, owner: who, ttlMs: 10_000 }));
    const results = await b.tryAcquireMany!(set);
    expect(results.map((r) => r.acquired)).toEqual([false, false, false]);
    expect(await allKeys()).toEqual(before);
    expect(await a.release(held)).toBe('released');
  });
});
