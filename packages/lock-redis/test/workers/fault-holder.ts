/**
 * The holder of the freeze and kill scenarios (test-utils' runFaultHolder over this package's
 * Redis backend). Env: REDIS_URL, LOCK_PREFIX, plus what the scenario sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { faultHolderConfig, runFaultHolder } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { redisBackend } from '../../src/index.js';

const client = new Redis(process.env.REDIS_URL!);
const locks = createLockClient(redisBackend({ client, prefix: process.env.LOCK_PREFIX! }), {
  ttlMs: faultHolderConfig().ttlMs,
});
await runFaultHolder({ locks });
await locks.close();
await client.quit();
