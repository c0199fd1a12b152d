import type { LeaseAcquireRequest, LockBackend, SharedBackend } from '@dlock/lock-core/spi';
import { redisBackend } from '@dlock/lock-redis';
import { sharedKeys } from '@dlock/lock-redis/internals';
import { requireRedisBinaries } from '@dlock/test-utils';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedlockClientLike, redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const PREFIX = 'shared-quorum:';

const request = (
  kind: 'read' | 'write',
  key: string,
  owner: string,
  queue = false,
): LeaseAcquireRequest => ({
  key,
  owner,
  kind,
  ttlMs: 10_000,
  limit: 1,
  permits: 1,
  changeLimit: false,
  queue,
});

/**
 * What the quorum mode of the shared scripts is for (see shared-backend.ts): per-node queues in
 * different orders, a failed quorum that gives back its grants, writer preference across nodes.
 * State on single nodes is planted and read with lock-redis's own backend on that node.
 */
describe.skipIf(!binaries.available)(
  'redlock shared keys over a quorum: queues and fencing',
  () => {
    let nodes: RedisNodes;
    let clients: RedlockClientLike[];
    let quorum: SharedBackend;
    const backends: LockBackend[] = [];
    const single = (index: number): SharedBackend => {
      const backend = redisBackend({ client: clients[index]!, prefix: PREFIX });
      backends.push(backend);
      return backend.shared!;
    };

    beforeAll(async () => {
      nodes = await startRedisNodes(5);
      clients = await nodes.clients();
      const backend = redlockBackend({ clients, prefix: PREFIX, nodeTimeoutMs: 200 });
      backends.push(backend);
      quorum = backend.shared!;
    });
    afterAll(async () => {
      await Promise.allSettled(backends.map((b) => b.close()));
      await nodes?.dispose();
    });

    it('writers queued in a different order on each node: one still gets a majority (no livelock)', async () => {
      const k = 'orders';
      const writers = ['w1', 'w2', 'w3'];
      const holder = await Promise.all(
        [0, 1, 2, 3, 4].map((i) => single(i).tryAcquire(request('write', k, 'holder'))),
      );
      expect(holder.every((g) => g.acquired)).toBe(true);
      // Heads per node: w1, w2, w3, w1, w2. Under a strict FIFO nobody is the head on 3 of 5.
      const heads = [0, 1, 2, 0, 1];
      for (const [i, head] of heads.entries()) {
        const s = single(i);
        for (let j = 0; j < writers.length; j++) {
          const owner = writers[(head + j) % writers.length]!;
          expect((await s.tryAcquire(request('write', k, owner, true))).acquired).toBe(false);
        }
      }
      await Promise.all(
        [0, 1, 2, 3, 4].map((i) => single(i).release({ key: k, owner: 'holder', kind: 'write' })),
      );
      const results = [];
      for (const owner of writers)
        results.push(await quorum.tryAcquire(request('write', k, owner, true)));
      expect(results.map((r) => r.acquired)).toEqual([true, false, false]);
      await quorum.release({ key: k, owner: 'w1', kind: 'write' });
      for (const owner of writers.slice(1)) await quorum.abandon({ key: k, owner, kind: 'write' });
      expect(await quorum.inspect('read-write', k)).toBeNull();
    });

    it('a failed quorum gives back its grants; a queued writer keeps new readers out of every majority', async () => {
      const k = 'preference';
      // A foreign writer holds 3 of 5 nodes (as after a partition); nodes 3 and 4 are free.
      for (const i of [0, 1, 2]) {
        expect((await single(i).tryAcquire(request('write', k, 'old'))).acquired).toBe(true);
      }
      expect((await quorum.tryAcquire(request('write', k, 'w', true))).acquired).toBe(false);
      for (const i of [3, 4]) {
        const state = await single(i).inspect('read-write', k);
        expect(state, `node ${i}: the grant was given back`).toBeNull();
      }
      for (const i of [0, 1, 2]) {
        expect((await single(i).inspect('read-write', k))?.waiters, `node ${i}`).toBe(1);
      }
      for (const i of [0, 1, 2]) await single(i).release({ key: k, owner: 'old', kind: 'write' });
      // Free everywhere now, but the writer's entries on 0, 1, 2 stop new readers there.
      expect((await quorum.tryAcquire(request('read', k, 'r', true))).acquired).toBe(false);
      for (const i of [3, 4]) {
        const holders = (await single(i).inspect('read-write', k))?.holders ?? [];
        expect(holders, `node ${i}: the reader's grant was given back`).toEqual([]);
      }
      const write = await quorum.tryAcquire(request('write', k, 'w', true));
      expect(write.acquired).toBe(true);
      // The grant dropped every entry of the writer.
      expect((await quorum.inspect('read-write', k))?.waiters).toBe(1); // the reader's
      await quorum.release({ key: k, owner: 'w', kind: 'write' });
      const read = await quorum.tryAcquire(request('read', k, 'r', true));
      expect(read.acquired).toBe(true);
      await quorum.release({ key: k, owner: 'r', kind: 'read' });
      expect(await quorum.inspect('read-write', k)).toBeNull();
    });
    it('write tokens strictly increase when node counters drift apart; reads are at least the last write', async () => {
      const k = 'drift';
      const fence = sharedKeys(PREFIX, 'read-write', k).fence;
      const raw = clients as unknown as Redis[];
      // One node's counter far ahead (it took grants the others missed).
      const ahead = BigInt(Date.now()) * 1000n + 10n ** 12n;
      await raw[4]!.set(fence, ahead.toString());
      const first = await quorum.tryAcquire(request('write', k, 'w1'));
      expect(first.acquired && first.fencingToken).toBeGreaterThan(ahead);
      await quorum.release({ key: k, owner: 'w1', kind: 'write' });
      // That node forgets its counter: the others must have been raised to the token.
      await raw[4]!.del(fence);
      const second = await quorum.tryAcquire(request('write', k, 'w2'));
      expect(second.acquired).toBe(true);
      if (!first.acquired || !second.acquired) return;
      expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
      await quorum.release({ key: k, owner: 'w2', kind: 'write' });
      const read = await quorum.tryAcquire(request('read', k, 'r'));
      expect(read.acquired && read.fencingToken).toBeGreaterThanOrEqual(second.fencingToken);
      await quorum.release({ key: k, owner: 'r', kind: 'read' });
    });

    // lock-core's semaphore scenarios all need limit 2 or more and skip themselves on Redlock:
    // the same rules for limit 1, on the quorum.
    it('limit-1 semaphore: exclusion, re-entry, owner-checked extend and release, increasing tokens', async () => {
      const k = 'sem-one';
      const sem = (
        owner: string,
        over: Partial<LeaseAcquireRequest> = {},
      ): LeaseAcquireRequest => ({
        ...request('write', k, owner),
        kind: 'semaphore',
        ...over,
      });
      const first = await quorum.tryAcquire(sem('a'));
      expect(first.acquired).toBe(true);
      expect((await quorum.tryAcquire(sem('b', { queue: true }))).acquired).toBe(false);
      const again = await quorum.tryAcquire(sem('a'));
      expect(again).toMatchObject({ acquired: true, reentered: true });
      if (!first.acquired || !again.acquired) return;
      expect(again.fencingToken).toBe(first.fencingToken);
      const state = await quorum.inspect('semaphore', k);
      expect(state).toMatchObject({ limit: 1, waiters: 1 });
      expect(state?.holders.map((h) => [h.owner, h.count, h.permits])).toEqual([['a', 2, 1]]);
      expect(await quorum.extend({ key: k, owner: 'b', kind: 'semaphore', ttlMs: 10_000 })).toBe(
        false,
      );
      expect(
        await quorum.extend({ key: k, owner: 'a', kind: 'semaphore', ttlMs: 10_000 }),
      ).not.toBe(false);
      expect(await quorum.release({ key: k, owner: 'a', kind: 'semaphore' })).toBe('decremented');
      expect(await quorum.release({ key: k, owner: 'a', kind: 'semaphore' })).toBe('released');
      expect(await quorum.release({ key: k, owner: 'a', kind: 'semaphore' })).toBe('not-held');
      const next = await quorum.tryAcquire(sem('b', { queue: true }));
      expect(next.acquired && next.fencingToken).toBeGreaterThan(first.fencingToken);
      // Its grant dropped its queue entries on every node.
      expect((await quorum.inspect('semaphore', k))?.waiters).toBe(0);
      await quorum.release({ key: k, owner: 'b', kind: 'semaphore' });
      expect(await quorum.inspect('semaphore', k)).toBeNull();
    });
  },
);
