import { runSharedSpiSuite } from '@dlock/lock-core/testing';
import { requireRedisBinaries } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();

describe.skipIf(!binaries.available)('redlock shared keys over 5 redis-server nodes', () => {
  let nodes: RedisNodes;
  beforeAll(async () => {
    nodes = await startRedisNodes(5);
  });
  afterAll(async () => {
    await nodes?.dispose();
  });

  // The queue scenarios need limit 2 and skip themselves here (maxSemaphoreLimit 1); the
  // read-write ones run in full (writer preference is what Redlock gives, see shared-backend.ts).
  runSharedSpiSuite({
    name: 'redlock (5 nodes)',
    createBackend: async () =>
      redlockBackend({ clients: await nodes.clients(), prefix: 'shared-kit:', nodeTimeoutMs: 100 }),
    runner: { describe, it, beforeAll, afterAll },
  });
});
