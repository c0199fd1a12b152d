import { fileURLToPath } from 'node:url';
import {
  type ManagedProcess,
  requireRedisBinaries,
  requireSharedRedis,
  runOppositeOrders,
  SHARED_REDIS,
  startRedisCluster,
  type TestRedisCluster,
  uniquePrefix,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../src/key-slot.js';
import { lockKeys } from '../src/redis-backend.js';

const redis = await requireSharedRedis();
const binaries = await requireRedisBinaries();
const WORKER = fileURLToPath(new URL('./workers/multi.ts', import.meta.url));
const TTL_MS = 2_000;

describe.skipIf(!redis.available)(
  'acquireAll across processes, standalone (real processes)',
  () => {
    const prefix = uniquePrefix('many-proc');
    const workers: ManagedProcess[] = [];
    const client = new Redis(SHARED_REDIS);
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.kill()));
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.unlink(...keys);
      await client.quit();
    });

    it('two processes taking the same 3 keys in opposite orders, 200 rounds, never deadlock', async () => {
      const report = await runOppositeOrders({
        workerScript: WORKER,
        env: {
          REDIS_URL: `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}`,
          LOCK_PREFIX: prefix,
        },
        keys: ['acct:1', 'acct:2', 'acct:3'],
        ttlMs: TTL_MS,
        track: workers,
      });
      expect(report).toEqual({ sets: 400, maxOverlap: 1 });
    }, 120_000);
  },
);

describe.skipIf(!binaries.available)(
  'acquireAll across processes, Cluster (real processes)',
  () => {
    let cluster: TestRedisCluster;
    const workers: ManagedProcess[] = [];
    beforeAll(async () => {
      cluster = await startRedisCluster();
    });
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.kill()));
      await cluster?.dispose();
    });

    it('keys in different slots, opposite orders, 200 rounds: slot by slot in one order, never deadlock', async () => {
      const keys = ['acct:1', 'acct:2', 'acct:3', 'acct:4'];
      // The set spans several slots, which is the point of this run.
      expect(new Set(keys.map((key) => keySlot(lockKeys('many:', key).lock))).size).toBeGreaterThan(
        1,
      );
      const report = await runOppositeOrders({
        workerScript: WORKER,
        env: {
          REDIS_CLUSTER: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
          LOCK_PREFIX: 'many:',
        },
        keys,
        ttlMs: TTL_MS,
        track: workers,
      });
      expect(report).toEqual({ sets: 400, maxOverlap: 1 });
    }, 180_000);
  },
);
