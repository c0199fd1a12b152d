import { createLockClient, LockTimeoutError } from '@dlock/lock-core';
import { redisBackend } from '@dlock/lock-redis';
import { requireSharedRedis, SHARED_REDIS, uniquePrefix } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ATTR, METRIC, SPAN } from '../src/index.js';
import { startHarness } from './harness.js';

const redis = await requireSharedRedis();

describe.skipIf(!redis.available)('@dlock/otel on Redis (127.0.0.1:6379)', () => {
  const prefix = uniquePrefix('otel');
  const clients: Redis[] = [];
  const client = () => {
    const c = new Redis(SHARED_REDIS);
    clients.push(c);
    return c;
  };
  afterAll(async () => {
    const cleaner = client();
    const keys = await cleaner.keys(`${prefix}*`);
    if (keys.length > 0) await cleaner.unlink(...keys);
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('traces a contended hand-off between two processes-worth of clients', async () => {
    const harness = startHarness();
    const [a, b] = [1, 2].map(() => createLockClient(redisBackend({ client: client(), prefix })));
    try {
      const first = await a!.acquire('job', { ttlMs: 5_000 });
      const waiting = b!.acquire('job', { ttlMs: 5_000, waitTimeoutMs: 5_000 });
      await expect(b!.acquire('job', { waitTimeoutMs: 0 })).rejects.toSatisfy(
        LockTimeoutError.isInstance,
      );
      await first.release();
      const second = await waiting;
      expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
      expect(await harness.sum(METRIC.holds)).toBe(1);
      await second.release();

      const holds = harness.spans(SPAN.hold);
      expect(holds.map((s) => s.attributes[ATTR.fencingToken])).toEqual([
        String(first.fencingToken),
        String(second.fencingToken),
      ]);
      expect(await harness.sum(METRIC.acquisitions, { [ATTR.outcome]: 'acquired' })).toBe(2);
      expect(await harness.sum(METRIC.acquisitions, { [ATTR.outcome]: 'timeout' })).toBe(1);
      expect(await harness.sum(METRIC.holdDuration)).toBe(2);
      expect(await harness.sum(METRIC.holds)).toBe(0);
    } finally {
      await Promise.all([a!.close(), b!.close()]);
      await harness.shutdown();
    }
  });
});
