/**
 * One process of the cross-process semaphore / read-write scenarios (test-utils'
 * runSharedWorker over this package's Redis backend). Env: REDIS_URL, LOCK_PREFIX, plus what
 * the scenario sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { runSharedWorker, sharedWorkerConfig } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { redisBackend } from '../../src/index.js';

const client = new Redis(process.env.REDIS_URL!);
const locks = createLockClient(redisBackend({ client, prefix: process.env.LOCK_PREFIX! }), {
  ttlMs: sharedWorkerConfig().ttlMs,
});
await runSharedWorker({ locks });
await locks.close();
await client.quit();
