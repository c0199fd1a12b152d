import { randomBytes } from 'node:crypto';
import { createLockClient } from '@dlock/lock-core';
import type { LeaseAcquireRequest, LeaseKind } from '@dlock/lock-core/spi';
import { runSharedSpiSuite } from '@dlock/lock-core/testing';
import { requireRedisBinaries } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisBackend } from '../src/index.js';
import { keySlot } from '../src/key-slot.js';
import { sharedKeys } from '../src/shared-keys.js';
import { useRedisCluster } from './helpers/redis-cluster.js';
import { NASTY_KEYS } from './helpers/spi-suite.js';

const binaries = await requireRedisBinaries();

const lease = (kind: LeaseKind, key: string, limit = 1): LeaseAcquireRequest => ({
  kind,
  key,
  owner: randomBytes(16).toString('hex'),
  ttlMs: 10_000,
  limit,
  permits: 1,
  changeLimit: false,
  queue: false,
});

describe.skipIf(!binaries.available)(
  'redis shared keys on a Cluster (3 masters started by the test)',
  () => {
    const fixture = useRedisCluster();
    const { newClient } = fixture;

    for (const pubsub of ['sharded', 'classic'] as const) {
      runSharedSpiSuite({
        name: `redis cluster, ${pubsub} pub/sub`,
        createBackend: () =>
          redisBackend({ client: newClient(), prefix: 'test:sem-redis:', pubsub }),
        runner: { describe, it, beforeAll, afterAll },
        keys: NASTY_KEYS,
      });
    }

    it('all names of one primitive share one slot, for keys that break naive hash tags', async () => {
      const backend = redisBackend({ client: newClient(), prefix: 'test:sem-redis:' });
      const shared = backend.shared!;
      const slots = new Set<number>();
      for (const key of NASTY_KEYS) {
        for (const family of ['semaphore', 'read-write'] as const) {
          const names = Object.values(sharedKeys('test:sem-redis:', family, key));
          expect(new Set(names.map(keySlot)).size).toBe(1);
          slots.add(keySlot(names[0]!));
        }
        // Every script ran in its slot (a CROSSSLOT error would reject).
        const s = lease('semaphore', key, 2);
        const r = lease('read', key);
        const w = lease('write', key);
        expect((await shared.tryAcquire(s)).acquired).toBe(true);
        expect((await shared.tryAcquire(r)).acquired).toBe(true);
        expect((await shared.tryAcquire({ ...w, queue: true })).acquired).toBe(false);
        expect(
          await shared.extendMany!([
            { ...s, ttlMs: 5_000 },
            { ...r, ttlMs: 5_000 },
          ]),
        ).toEqual([true, true]);
        expect((await shared.inspect('read-write', key))!.waiters).toBe(1);
        expect(await shared.abandon(w)).toBe(true);
        expect(await shared.release(s)).toBe('released');
        expect(await shared.release(r)).toBe('released');
        expect(await shared.forceRelease!('semaphore', key)).toBe(false);
      }
      // The keys spread over the cluster rather than piling into one slot.
      expect(slots.size).toBeGreaterThan(3);
      await backend.close();
    });

    it.each(['sharded', 'classic'] as const)(
      'a queued writer in another client is woken by the readers leaving (%s pub/sub)',
      async (pubsub) => {
        const [backendA, backendB] = [0, 1].map(() =>
          redisBackend({ client: newClient(), prefix: 'test:sem-redis:', pubsub }),
        );
        // Count the writer's attempts: it asks, subscribes, asks again, then sleeps.
        const shared = backendB!.shared!;
        const tryAcquire = shared.tryAcquire.bind(shared);
        let answered = 0;
        Object.assign(shared, {
          tryAcquire: (request: Parameters<typeof tryAcquire>[0]) =>
            tryAcquire(request).finally(() => answered++),
        });
        const [a, b] = [backendA, backendB].map((backend) =>
          createLockClient(backend!, { ttlMs: 30_000 }),
        );
        const key = `doc:${pubsub}`;
        const r1 = await a!.readWriteLock(key).read.acquire();
        const r2 = await a!.readWriteLock(key).read.acquire({ owner: 'second-reader' });
        // The writer's safety re-check is 10 s away: only the release message is in time.
        const writing = b!.readWriteLock(key).write.acquire({ waitTimeoutMs: 4_000 });
        await expect.poll(() => answered).toBe(2);
        expect((await a!.readWriteLock(key).inspect()).waiters).toBe(1);
        // A new reader cannot pass the queued writer.
        expect(await a!.readWriteLock(key).read.tryAcquire({ owner: 'late-reader' })).toBeNull();
        await r1.release();
        await r2.release();
        const write = await writing;
        expect(answered).toBe(3);
        expect(write.fencingToken).toBeGreaterThan(r1.fencingToken);
        await write.release();
        await Promise.all([a!.close(), b!.close()]);
      },
    );
  },
);
