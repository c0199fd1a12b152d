import { fileURLToPath } from 'node:url';
import { createLockClient } from '@dlock/lock-core';
import {
  describeSharedReport,
  type ManagedProcess,
  requireSharedRedis,
  runPermitHistory,
  runPermitKill,
  runReaderKill,
  runWriterUnderReaders,
  SHARED_REDIS,
  uniquePrefix,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisBackend } from '../src/index.js';

const redis = await requireSharedRedis();
const TTL_MS = 1_000;

describe.skipIf(!redis.available)('semaphores and read-write locks across processes', () => {
  const prefix = uniquePrefix('test:sem-redis:procs:');
  const workers: ManagedProcess[] = [];
  const base = {
    workerScript: fileURLToPath(new URL('./workers/shared.ts', import.meta.url)),
    env: { REDIS_URL: `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}`, LOCK_PREFIX: prefix },
    ttlMs: TTL_MS,
    track: workers,
  };
  let client: Redis;
  let contender: ReturnType<typeof createLockClient>;

  beforeAll(() => {
    client = new Redis(SHARED_REDIS);
    contender = createLockClient(redisBackend({ client, prefix }), { ttlMs: TTL_MS });
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await contender?.close();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
    await client?.quit();
  });

  it('4 processes against limit 2: never more than 2 at once, and 2 reached', async () => {
    const report = await runPermitHistory({
      ...base,
      key: 'history',
      limit: 2,
      processes: 4,
      rounds: 8,
    });
    expect(report).toEqual({ spans: 32, maxOverlap: 2 });
  }, 60_000);

  it("a SIGKILLed permit holder's permit returns within its TTL", async () => {
    const report = await runPermitKill({ ...base, key: 'permit-kill', contender });
    console.log(describeSharedReport('redis', 'permit kill', report));
  }, 60_000);

  it('a SIGKILLed reader stops blocking a writer after its own TTL while another reader renews', async () => {
    const report = await runReaderKill({ ...base, key: 'reader-kill', contender });
    console.log(describeSharedReport('redis', 'reader kill', report));
  }, 60_000);

  it('a writer is served within one reader TTL under a stream of overlapping readers', async () => {
    const report = await runWriterUnderReaders({ ...base, key: 'writer-under-readers', contender });
    console.log(describeSharedReport('redis', 'writer under readers', report));
  }, 60_000);
});
