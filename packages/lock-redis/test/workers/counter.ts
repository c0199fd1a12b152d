/**
 * One contender of the multi-process exclusion test (test-utils' runCounterSections over this
 * package's Redis backend). Env: REDIS_URL, LOCK_PREFIX, plus what runExclusionWorkers sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { counterWorkerConfig, runCounterSections } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { redisBackend } from '../../src/index.js';

const client = new Redis(process.env.REDIS_URL!);
const locks = createLockClient(redisBackend({ client, prefix: process.env.LOCK_PREFIX! }), {
  ttlMs: 5_000,
});
await runCounterSections({ locks, ...counterWorkerConfig() });
await locks.close();
await client.quit();
