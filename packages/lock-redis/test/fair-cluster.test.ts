import { createLockClient } from '@dlock/lock-core';
import { requireRedisBinaries, waitUntil } from '@dlock/test-utils';
import { describe, expect, it } from 'vitest';
import { fairKeys } from '../src/fair/fair-keys.js';
import { redisBackend } from '../src/index.js';
import { lockKeys } from '../src/redis-backend.js';
import { useRedisCluster } from './helpers/redis-cluster.js';
import { NASTY_KEYS } from './helpers/spi-suite.js';

const binaries = await requireRedisBinaries();

describe.skipIf(!binaries.available)('fair mode on a redis cluster (3 masters)', () => {
  const fixture = useRedisCluster();
  const { newClient } = fixture;

  for (const pubsub of ['sharded', 'classic'] as const) {
    it(`${pubsub} pub/sub: clients queued on keys of every slot are served in queue order`, async () => {
      const make = () =>
        createLockClient(redisBackend({ client: newClient(), fair: true, pubsub }), {
          ttlMs: 5_000,
        });
      const [holder, ...waiters] = [make(), make(), make(), make()];
      const admin = newClient();
      try {
        // Keys that look like hash tags land in different slots; each queue stays in its lock's.
        for (const key of NASTY_KEYS.slice(0, 6)) {
          const held = await holder.acquire(key);
          const queue = fairKeys(lockKeys('dlock:', key).lock, key).queue;
          const order: number[] = [];
          const turns: Promise<void>[] = [];
          for (const [i, w] of waiters.entries()) {
            // Each waits behind the previous one: it asks only once that one is queued.
            const turn = w.acquire(key).then(async (lock) => {
              order.push(i);
              await lock.release();
            });
            turns.push(turn);
            await waitUntil(async () => (await admin.zcard(queue)) === i + 1, {
              message: `waiter ${i} queued`,
            });
          }
          await held.release();
          await Promise.all(turns);
          expect(order).toEqual([0, 1, 2]);
          expect(await holder.inspect(key)).toBeNull();
        }
      } finally {
        await Promise.all([holder, ...waiters].map((c) => c.close()));
      }
    }, 60_000);
  }
});
