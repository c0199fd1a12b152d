import { runBackendSpiSuite, runConformance } from '@dlock/lock-core/testing';
import { lockKeys } from '@dlock/lock-redis/internals';
import { requireRedisBinaries } from '@dlock/test-utils';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();

describe.skipIf(!binaries.available)('redlock over 5 redis-server nodes', () => {
  let nodes: RedisNodes;
  beforeAll(async () => {
    nodes = await startRedisNodes(5);
  });
  afterAll(async () => {
    await nodes?.dispose();
  });

  // New clients per backend: each backend is like another process on the same five nodes.
  const createBackend = async () =>
    redlockBackend({
      clients: await nodes.clients(),
      prefix: 'kit:',
      // Generous for a shared, noisy test machine; the kit's TTL is 250 ms.
      nodeTimeoutMs: 100,
    });
  const runner = { describe, it, beforeAll, afterAll };

  runBackendSpiSuite({ name: 'redlock (5 nodes)', createBackend, runner });

  runConformance({
    name: 'redlock (5 nodes)',
    createBackend,
    runner,
    // Every node forgets the counter: the nodes' time floors alone must keep tokens increasing.
    faults: {
      loseFencingState: async (key) => {
        const fence = lockKeys('kit:', key).fence;
        const clients = (await nodes.clients()) as unknown as Redis[];
        await Promise.all(clients.map((c) => c.del(fence)));
        for (const client of clients) client.disconnect();
      },
    },
  });
});
