/**
 * A process of the opposite-orders scenario (test-utils' runMultiWorker) over this package's
 * Redis backend, standalone (REDIS_URL) or Cluster (REDIS_CLUSTER: host:port,host:port,...).
 * Env: LOCK_PREFIX, plus what the scenario sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { multiWorkerConfig, runMultiWorker } from '@dlock/test-utils';
import { Cluster, Redis } from 'ioredis';
import { redisBackend } from '../../src/index.js';

const nodes = process.env.REDIS_CLUSTER?.split(',').map((node) => {
  const [host, port] = node.split(':');
  return { host: host!, port: Number(port) };
});
const client = nodes ? new Cluster(nodes) : new Redis(process.env.REDIS_URL!);
const locks = createLockClient(redisBackend({ client, prefix: process.env.LOCK_PREFIX! }), {
  ttlMs: multiWorkerConfig().ttlMs,
});
await runMultiWorker({ locks });
await locks.close();
await client.quit();
