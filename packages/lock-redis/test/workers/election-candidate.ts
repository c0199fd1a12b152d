/**
 * A candidate of the election fault tests, on the SPI directly (no core loop in between): it
 * campaigns with a queue entry, and once leading renews every third of its lease. Prints
 * `queued`, `leader <term>` and `lost <term>` (a renewal found it deposed). Env: REDIS_URL,
 * LOCK_PREFIX, ELECTION, VALUE, TTL_MS.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { redisBackend } from '../../src/index.js';

const client = new Redis(process.env.REDIS_URL!);
const backend = redisBackend({ client, prefix: process.env.LOCK_PREFIX! });
const election = backend.election!;
const key = process.env.ELECTION!;
const value = process.env.VALUE!;
const ttlMs = Number(process.env.TTL_MS);
const owner = randomBytes(16).toString('hex');

let announcedQueue = false;
for (;;) {
  const result = await election.campaign({ key, owner, ttlMs, value, queue: true });
  if (!result.acquired) {
    if (!announcedQueue) console.log('queued');
    announcedQueue = true;
    await sleep(Math.max(10, Math.min(result.retryAfterMs ?? ttlMs / 3, ttlMs / 3)));
    continue;
  }
  console.log(`leader ${result.fencingToken}`);
  while ((await election.extend({ key, owner, ttlMs })) !== false) await sleep(ttlMs / 3);
  console.log(`lost ${result.fencingToken}`);
  announcedQueue = false;
}
