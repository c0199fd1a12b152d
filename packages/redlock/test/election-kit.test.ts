import { runElectionConformance, runElectionSpiSuite } from '@dlock/lock-core/testing';
import { requireRedisBinaries } from '@dlock/test-utils';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { electionKeys } from '../src/election/election-keys.js';
import { redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();

describe.skipIf(!binaries.available)('redlock elections over 5 redis-server nodes (kits)', () => {
  let nodes: RedisNodes;
  beforeAll(async () => {
    nodes = await startRedisNodes(5);
  });
  afterAll(async () => {
    await nodes?.dispose();
  });

  // New clients per backend: each backend is like another process on the same five nodes.
  const createBackend = async () =>
    redlockBackend({ clients: await nodes.clients(), prefix: 'election-kit:', nodeTimeoutMs: 100 });
  const runner = { describe, it, beforeAll, afterAll };

  // No candidate queue (see election-backend.ts): the queue scenarios skip themselves.
  runElectionSpiSuite({
    name: 'redlock (5 nodes)',
    createBackend,
    runner,
    // Every node forgets the term counter: the shared time floor alone must keep terms increasing.
    loseTermState: async (name) => {
      const fence = electionKeys('election-kit:', name).fence;
      const clients = (await nodes.clients()) as unknown as Redis[];
      await Promise.all(clients.map((c) => c.del(fence)));
      for (const client of clients) client.disconnect();
    },
  });
  runElectionConformance({ name: 'redlock (5 nodes)', createBackend, runner });
});
