import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import {
  electionScenarioTests,
  type ManagedProcess,
  requireRedisBinaries,
  runOppositeOrders,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const TTL_MS = 2_000;
const PREFIX = 'election-proc:';

describe.skipIf(!binaries.available)(
  'election scenarios over 5 redlock nodes (real processes)',
  () => {
    let nodes: RedisNodes;
    let rival: LockClient;
    const workers: ManagedProcess[] = [];
    const base = () => ({
      workerScript: fileURLToPath(new URL('./workers/election.ts', import.meta.url)),
      env: { NODE_PORTS: nodes.servers.map((s) => s.port).join(','), LOCK_PREFIX: PREFIX },
      ttlMs: TTL_MS,
      track: workers,
    });

    beforeAll(async () => {
      nodes = await startRedisNodes(5);
      rival = createLockClient(
        redlockBackend({ clients: await nodes.clients(), prefix: PREFIX, nodeTimeoutMs: 200 }),
        { ttlMs: TTL_MS },
      );
    });
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.kill()));
      await rival?.close();
      await nodes?.dispose();
    });

    electionScenarioTests({ it, label: 'redlock', base: () => ({ ...base(), rival }) });

    // acquireAll has no atomic step here (no tryAcquireMany): the core takes the keys one by one in
    // canonical order, which must still never deadlock nor overlap.
    it('acquireAll: two processes taking three keys in opposite orders both finish every round, never overlapping', async () => {
      const { env, ...rest } = base();
      const report = await runOppositeOrders({
        ...rest,
        env: { ...env, WORKER_KIND: 'multi' },
        keys: ['alpha', 'beta', 'gamma'],
      });
      expect(report.maxOverlap).toBe(1);
    }, 180_000);
  },
);
