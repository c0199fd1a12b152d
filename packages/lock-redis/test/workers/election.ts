/**
 * A leader of the election scenarios (test-utils' runElectionWorker) over this package's Redis
 * backend. Env: REDIS_URL, LOCK_PREFIX, plus what the scenario sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { electionWorkerConfig, runElectionWorker } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { redisBackend } from '../../src/index.js';

const client = new Redis(process.env.REDIS_URL!);
const locks = createLockClient(redisBackend({ client, prefix: process.env.LOCK_PREFIX! }), {
  ttlMs: electionWorkerConfig().ttlMs,
});
await runElectionWorker({ locks });
await locks.close();
await client.quit();
