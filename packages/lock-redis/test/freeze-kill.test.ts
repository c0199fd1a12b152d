import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import {
  describeFaultReport,
  type ManagedProcess,
  requireSharedRedis,
  runFreezeScenario,
  runKillScenario,
  SHARED_REDIS,
  uniquePrefix,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { redisBackend } from '../src/index.js';

const redis = await requireSharedRedis();
const TTL_MS = 2_000;

describe.skipIf(!redis.available)('a frozen or killed holder (real processes)', () => {
  const prefix = uniquePrefix('fault');
  const workers: ManagedProcess[] = [];
  const client = new Redis(SHARED_REDIS);
  let contender: LockClient;
  const scenario = {
    workerScript: fileURLToPath(new URL('./workers/fault-holder.ts', import.meta.url)),
    env: { REDIS_URL: `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}`, LOCK_PREFIX: prefix },
    ttlMs: TTL_MS,
    track: workers,
  };

  beforeAll(() => {
    contender = createLockClient(redisBackend({ client, prefix }), { ttlMs: TTL_MS });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await contender.close();
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.unlink(...keys);
    await client.quit();
  });

  it('freeze: SIGSTOPped past its TTL, the holder is replaced and sees the loss at its first look', async () => {
    const report = await runFreezeScenario({ ...scenario, key: 'frozen', contender });
    console.log(describeFaultReport('redis', 'freeze', report));
  }, 30_000);

  it('kill: SIGKILLed after renewing for two TTLs, the holder frees the key within its TTL', async () => {
    const report = await runKillScenario({ ...scenario, key: 'killed', contender });
    console.log(describeFaultReport('redis', 'kill', report));
  }, 30_000);
});
