/**
 * Fault-test worker: takes a lock with the watchdog on, prints `HELD <token>` and then just keeps
 * running until it is killed (the SIGKILL is the point of the test).
 * Env: REDIS_URL, LOCK_KEY, LOCK_TTL_MS, LOCK_PREFIX.
 */
import { createLockClient } from '@dlock/lock-core';
import { Redis } from 'ioredis';
import { redisBackend } from '../../src/index.js';

const client = new Redis(process.env.REDIS_URL!);
const locks = createLockClient(redisBackend({ client, prefix: process.env.LOCK_PREFIX! }), {
  ttlMs: Number(process.env.LOCK_TTL_MS),
});
const lock = await locks.acquire(process.env.LOCK_KEY!, { autoExtend: true, waitTimeoutMs: 5_000 });
console.log(`HELD ${lock.fencingToken}`);
setInterval(() => {}, 1_000); // the watchdog timer is unref'd; stay alive until killed
