import { requireRedis, SHARED_REDIS_URL, uniqueName } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdGenArgumentError, IdGenBackendError } from '../src/index.js';
import { redisIncr, redisSegment } from '../src/redis.js';
import { analyse, runWorker } from './helpers/processes.js';

const REDIS_URL = SHARED_REDIS_URL;
const { available } = await requireRedis(REDIS_URL);
const PREFIX = uniqueName('dlock-test:idgen:');

describe('redis generators: bad input (no I/O)', () => {
  const fail = async () => {
    throw new Error('must not be called');
  };
  const client = { eval: fail, incrby: fail };
  it('rejects a missing client, an empty key and bad steps before any I/O', () => {
    expect(() => redisIncr({ client: {} as never, key: 'k' })).toThrow(IdGenArgumentError);
    expect(() => redisIncr({ client, key: '' })).toThrow(IdGenArgumentError);
    expect(() => redisIncr({ client, key: 'k', batch: 0 })).toThrow(IdGenArgumentError);
    expect(() => redisSegment({ client, key: 'k', step: 0 })).toThrow(IdGenArgumentError);
    expect(() => redisSegment({ client, key: 'k', step: -5 })).toThrow(IdGenArgumentError);
  });
});

describe.skipIf(!available)('redis generators (real Redis)', () => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    const keys = await client.keys(`${PREFIX}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  it('redisIncr returns exact bigints, also once the counter passes 2^53', async () => {
    const key = `${PREFIX}big`;
    const gen = redisIncr({ client, key });
    expect(await gen.nextId()).toBe(1n);
    await client.set(key, '9007199254740990'); // 2^53 - 2
    expect(await gen.nextId()).toBe(9007199254740991n); // still a safe integer
    // 2^53 comes back from INCR as a number that may be rounded: that id is skipped (a gap, never
    // a duplicate) and the generator switches to reading the counter as a string.
    expect(await gen.nextIdString()).toBe('9007199254740993');
    expect(await gen.nextId()).toBe(9007199254740994n);
    const batched = redisIncr({ client, key, batch: 10 });
    // Its first INCRBY reply is unsafe too: skipped, then exact.
    expect(await batched.nextId()).toBe(9007199254741005n);
    expect(await batched.nextId()).toBe(9007199254741006n);
    expect(await client.get(key)).toBe('9007199254741014');
    await Promise.all([gen.close(), batched.close()]);
  });

  it('redisSegment hands out consecutive ids from INCRBY segments; a graceful restart leaves no gap', async () => {
    const key = `${PREFIX}seg`;
    const gen = redisSegment({ client, key, step: 100, adaptive: false });
    const ids: bigint[] = [];
    for (let i = 0; i < 250; i++) ids.push(await gen.nextId());
    expect(ids[0]).toBe(1n);
    expect(ids[249]).toBe(250n);
    expect(await client.get(key)).toBe('400'); // segments 1-3 and the prefetched 4th
    await gen.close();
    expect(await client.get(key)).toBe('250'); // unused ids given back (nobody reserved after us)
    const restarted = redisSegment({ client, key, step: 100, adaptive: false });
    expect(await restarted.nextId()).toBe(251n);
    // Another process reserves after us: our unused ids can no longer be given back.
    await client.incrby(key, 100);
    await restarted.close();
    expect(await client.get(key)).toBe('450');
  });

  it('wraps Redis errors as IdGenBackendError', async () => {
    const key = `${PREFIX}notanumber`;
    await client.set(key, 'abc');
    const gen = redisSegment({ client, key, step: 10 });
    const error = await gen.nextId().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdGenBackendError);
    expect((error as IdGenBackendError).code).toBe('IDGEN_BACKEND');
    await gen.close();
  });

  it('4 processes x 50,000 ids from redisIncr (batch 1 and 100): no duplicate', async () => {
    for (const batch of ['1', '100']) {
      const key = `${PREFIX}incr${batch}`;
      const runs = await Promise.all(
        Array.from({ length: 4 }, () => runWorker(['redisIncr', '50000', key, batch])),
      );
      const all = runs.flat();
      expect(all).toHaveLength(200_000);
      const { duplicates, largestGap } = analyse(all);
      expect(duplicates).toBe(0);
      expect(largestGap).toBeLessThan(BigInt(batch));
    }
  });

  it('4 processes x 50,000 ids from redisSegment (step 10,000): no duplicate, gaps within one step per process', async () => {
    const key = `${PREFIX}seg4`;
    const step = 10_000;
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => runWorker(['redisSegment', '50000', key, String(step)])),
    );
    const all = runs.flat();
    expect(all).toHaveLength(200_000);
    const { duplicates, largestGap, missing } = analyse(all);
    expect(duplicates).toBe(0);
    // Each stopped process leaves at most its unused prefetched segment behind.
    expect(largestGap).toBeLessThanOrEqual(BigInt(step * 4));
    expect(missing).toBeLessThanOrEqual(BigInt(step * 4));
    expect(BigInt((await client.get(key))!)).toBeLessThanOrEqual(BigInt(200_000 + step * 4));
  });
});
