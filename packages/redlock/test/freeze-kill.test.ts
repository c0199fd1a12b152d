import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import {
  describeFaultReport,
  type ManagedProcess,
  requireRedisBinaries,
  runFreezeScenario,
  runKillScenario,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const TTL_MS = 2_000;

describe.skipIf(!binaries.available)(
  'a frozen or killed holder over 5 redlock nodes (real processes)',
  () => {
    let nodes: RedisNodes;
    let contender: LockClient;
    const workers: ManagedProcess[] = [];
    const scenario = () => ({
      workerScript: fileURLToPath(new URL('./workers/fault-holder.ts', import.meta.url)),
      env: { NODE_PORTS: nodes.servers.map((s) => s.port).join(','), LOCK_PREFIX: 'fault:' },
      ttlMs: TTL_MS,
      contender,
      track: workers,
    });

    beforeAll(async () => {
      nodes = await startRedisNodes(5);
      const clients = await nodes.clients();
      contender = createLockClient(
        redlockBackend({ clients, prefix: 'fault:', nodeTimeoutMs: 200 }),
        {
          ttlMs: TTL_MS,
        },
      );
    });
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.kill()));
      await contender?.close();
      await nodes?.dispose();
    });

    it('freeze: SIGSTOPped past its TTL, the holder is replaced and sees the loss at its first look', async () => {
      const report = await runFreezeScenario({ ...scenario(), key: 'frozen' });
      console.log(describeFaultReport('redlock', 'freeze', report));
    }, 30_000);

    it('kill: SIGKILLed after renewing for two TTLs, the holder frees the key within its TTL', async () => {
      const report = await runKillScenario({ ...scenario(), key: 'killed' });
      console.log(describeFaultReport('redlock', 'kill', report));
    }, 30_000);
  },
);
