import { createLockClient } from '@dlock/lock-core';
import { runConformance } from '@dlock/lock-core/testing';
import { requireRedisBinaries, waitUntil } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisBackend } from '../src/index.js';
import { keySlot } from '../src/key-slot.js';
import { lockKeys } from '../src/redis-backend.js';
import { useRedisCluster } from './helpers/redis-cluster.js';
import { describeBackendSpi, NASTY_KEYS } from './helpers/spi-suite.js';

const binaries = await requireRedisBinaries();

describe.skipIf(!binaries.available)('redis cluster (3 masters started by the test)', () => {
  const fixture = useRedisCluster();
  const { newClient } = fixture;

  runConformance({
    name: 'redis cluster',
    createBackend: async () => {
      // ioredis opens a Cluster's per-node connections lazily, on the first command for a slot
      // of that node. Open them all up front, so the kit's leak check (active handles before and
      // after close()) does not count the user's own client warming up.
      const client = newClient();
      await client.ping();
      await Promise.all(client.nodes('master').map((node) => node.ping()));
      return redisBackend({ client, prefix: 'dlock:' });
    },
    runner: { describe, it, beforeAll, afterAll },
    // The kit's default 250 ms TTL leaves the watchdog about 170 ms of slack per renewal: a CI run
    // (coverage, three test files and the servers on two cores) stalls longer than that.
    traits: { shortTtlMs: 750 },
  });

  describeBackendSpi('cluster, sharded pub/sub', () => ({
    createBackend: () => redisBackend({ client: newClient(), prefix: 'dlock:', pubsub: 'sharded' }),
  }));

  describeBackendSpi('cluster, classic pub/sub', () => ({
    createBackend: () => redisBackend({ client: newClient(), prefix: 'dlock:', pubsub: 'classic' }),
  }));

  it('sharded pub/sub: channels live on their slot masters and survive killed subscribers', async () => {
    const admins = fixture.cluster.nodes.map((n) => new Redis(n));
    const ttlMs = 10_000; // long: a stranded waiter would only be rescued by the 10 s re-check
    const holder = createLockClient(redisBackend({ client: newClient(), prefix: 'shard:' }), {
      ttlMs,
    });
    const waiterBackend = redisBackend({ client: newClient(), prefix: 'shard:' });
    const waiter = createLockClient(waiterBackend, { ttlMs });
    try {
      const keys = Array.from({ length: 12 }, (_, i) => `sharded:${i}`);
      const held = await Promise.all(keys.map((key) => holder.acquire(key)));
      const got: string[] = [];
      const waiting = keys.map(async (key) => {
        const lock = await waiter.acquire(key, { waitTimeoutMs: 8_000, strategy: 'watch' });
        got.push(key);
        await lock.release();
      });
      const shardChannels = async () =>
        (
          await Promise.all(
            admins.map((a) => a.pubsub('SHARDCHANNELS', 'shard:*') as Promise<string[]>),
          )
        ).map((c) => c.length);
      await waitUntil(
        async () => (await shardChannels()).reduce((a, b) => a + b, 0) === keys.length,
        {
          message: 'all 12 shard channels subscribed',
        },
      );
      // Spread over the masters, and nothing on classic channels.
      expect((await shardChannels()).filter((n) => n > 0).length).toBeGreaterThan(1);
      expect(await admins[0]!.pubsub('CHANNELS', 'shard:*')).toEqual([]);
      for (const admin of admins) await admin.client('KILL', 'TYPE', 'pubsub');
      await Promise.all(held.map((lock) => lock.release()));
      await Promise.all(waiting);
      expect(got.sort()).toEqual([...keys].sort());
    } finally {
      await holder.close();
      await waiter.close();
      for (const admin of admins) admin.disconnect();
    }
  });

  it('puts a lock hash, its fencing counter and its channel in one slot, whatever braces the key has', async () => {
    const client = newClient();
    const slots = new Set<number>();
    for (const key of [...NASTY_KEYS, 'plain', 'a{b}c', '{{}}']) {
      const k = lockKeys('dlock:', key);
      const [lock, fence, channel] = (await Promise.all([
        client.cluster('KEYSLOT', k.lock),
        client.cluster('KEYSLOT', k.fence),
        client.cluster('KEYSLOT', k.channel),
      ])) as number[];
      expect(keySlot(k.lock), key).toBe(lock); // our own slot function agrees with the server
      expect(fence, key).toBe(lock);
      expect(channel, key).toBe(lock);
      slots.add(lock!);
    }
    // Keys that share a brace section still spread over slots (the tag is a digest of the key).
    const braced = await Promise.all(
      ['{x}1', '{x}2', '{x}3', '{x}4', '{x}5', '{x}6'].map(
        (key) => client.cluster('KEYSLOT', lockKeys('dlock:', key).lock) as Promise<number>,
      ),
    );
    expect(new Set(braced).size).toBeGreaterThan(1);
    expect(slots.size).toBeGreaterThan(5);
  });

  for (const pubsub of ['sharded', 'classic'] as const) {
    it(`works under an ioredis keyPrefix (${pubsub} pub/sub): release events still arrive`, async () => {
      const prefixed = newClient({ keyPrefix: 'kp:' });
      const holder = redisBackend({ client: prefixed, pubsub });
      const watcher = redisBackend({ client: prefixed, pubsub });
      const key = `prefixed:${pubsub}`;
      await holder.tryAcquire({ key, owner: 'o', ttlMs: 5_000 });
      let woken = 0;
      await watcher.watch!(key, () => woken++);
      // A refused attempt flags the key: only then does the release publish.
      expect((await watcher.tryAcquire({ key, owner: 'w', ttlMs: 5_000 })).acquired).toBe(false);
      expect(await holder.release({ key, owner: 'o' })).toBe('released');
      await waitUntil(() => woken > 0, { timeoutMs: 2_000, message: 'release event' });
      await holder.close();
      await watcher.close();
    });
  }

  it('lists from a client that has not connected yet, across every master', async () => {
    const holder = createLockClient(redisBackend({ client: newClient(), prefix: 'ls-fresh:' }));
    const keys = Array.from({ length: 12 }, (_, i) => `spread:${i}`);
    const locks = await Promise.all(keys.map((k) => holder.acquire(k, { ttlMs: 10_000 })));
    // A brand-new Cluster client knows no masters until it has loaded the slot map.
    const lister = createLockClient(redisBackend({ client: newClient(), prefix: 'ls-fresh:' }));
    const listed: string[] = [];
    for await (const lock of lister.list('spread:', { pageSize: 5 })) listed.push(lock.key);
    expect(listed.sort()).toEqual([...keys].sort());
    await Promise.all(locks.map((l) => l.release()));
    await Promise.all([holder.close(), lister.close()]);
  });

  it('locks on every master: keys spread over the three nodes all work', async () => {
    const backend = redisBackend({ client: newClient() });
    const keys = Array.from({ length: 30 }, (_, i) => `spread:${i}`);
    for (const key of keys)
      expect((await backend.tryAcquire({ key, owner: 'o', ttlMs: 5_000 })).acquired).toBe(true);
    expect(
      await backend.extendMany!(keys.map((key) => ({ key, owner: 'o', ttlMs: 5_000 }))),
    ).toEqual(keys.map(() => true));
    for (const key of keys) expect(await backend.release({ key, owner: 'o' })).toBe('released');
    await backend.close();
  });
});
