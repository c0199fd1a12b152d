import { fileURLToPath } from 'node:url';
import {
  assertExclusion,
  type ManagedProcess,
  requireSharedRedis,
  runExclusionWorkers,
  SHARED_REDIS,
  uniquePrefix,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, describe, it } from 'vitest';

const redis = await requireSharedRedis();
const PROCESSES = 6;
const SECTIONS = 50;

describe.skipIf(!redis.available)('multi-process exclusion', () => {
  const prefix = uniquePrefix('multiprocess');
  const workers: ManagedProcess[] = [];

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    const client = new Redis(SHARED_REDIS);
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.unlink(...keys);
    await client.quit();
  });

  it(`${PROCESSES} processes x ${SECTIONS} read-yield-write sections: no lost update, tokens increase in write order`, async () => {
    const result = await runExclusionWorkers({
      workerScript: fileURLToPath(new URL('./workers/counter.ts', import.meta.url)),
      processes: PROCESSES,
      sections: SECTIONS,
      env: { REDIS_URL: `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}`, LOCK_PREFIX: prefix },
      track: workers,
    });
    assertExclusion(result, { processes: PROCESSES, sections: SECTIONS });
  }, 90_000);
});
