/**
 * One waiter of the fair-mode scenarios (test/fair-processes.test.ts): a process with its own
 * client on a fair backend that waits for KEY once, prints `granted <token>` when it gets it,
 * holds it HOLD_MS, releases and exits. Env: REDIS_URL, LOCK_PREFIX, KEY, TTL_MS, HOLD_MS.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLockClient } from '@dlock/lock-core';
import { Redis } from 'ioredis';
import { redisBackend } from '../../src/index.js';

const env = process.env;
const client = new Redis(env.REDIS_URL!);
const locks = createLockClient(redisBackend({ client, prefix: env.LOCK_PREFIX!, fair: true }), {
  ttlMs: Number(env.TTL_MS),
});
await client.ping();
console.log('ready');
const lock = await locks.acquire(env.KEY!, { waitTimeoutMs: 120_000 });
console.log(`granted ${lock.fencingToken}`);
// The holder's section: what the scenario measures is the order of grants, not this.
await sleep(Number(env.HOLD_MS));
await lock.release();
console.log('released');
await locks.close();
await client.quit();
