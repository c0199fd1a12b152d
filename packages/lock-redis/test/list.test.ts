import { createLockClient, type ListedLock, type LockClient } from '@dlock/lock-core';
import { requireSharedRedis, SHARED_REDIS, uniquePrefix } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisBackend } from '../src/index.js';
import { keyOfLockName, lockPattern } from '../src/list.js';

const redis = await requireSharedRedis();

async function listAll(client: LockClient, prefix: string): Promise<ListedLock[]> {
  const found: ListedLock[] = [];
  for await (const lock of client.list(prefix)) found.push(lock);
  return found;
}

describe('redis list: the SCAN pattern', () => {
  it('escapes every glob character of both prefixes', () => {
    expect(lockPattern('kp*:', 'app?:', 'a[b]\\*')).toBe(
      'kp\\*:app\\?:{????????????}:lock:a\\[b\\]\\\\\\**',
    );
  });

  it('takes only names whose tag is the key digest', () => {
    const name = 'p:{000000000000}:lock:k';
    expect(keyOfLockName('p:', name)).toBeUndefined();
    expect(keyOfLockName('p:', 'q:{000000000000}:lock:k')).toBeUndefined();
  });
});

describe.skipIf(!redis.available)('redis list on the shared server', () => {
  const prefix = uniquePrefix('list');
  const clients: Redis[] = [];
  const newClient = (options: { keyPrefix?: string } = {}) => {
    const client = new Redis({ ...SHARED_REDIS, ...options });
    clients.push(client);
    return client;
  };
  afterAll(async () => {
    const cleaner = newClient();
    let cursor = '0';
    do {
      const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await cleaner.unlink(...keys);
    } while (cursor !== '0');
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('lists under an ioredis keyPrefix, and skips keys that only look like lock names', async () => {
    const locks = createLockClient(
      redisBackend({ client: newClient({ keyPrefix: `${prefix}kp:` }), prefix: 'x:' }),
    );
    const held = await locks.acquire('job:1', { ttlMs: 10_000 });
    // Matches the SCAN pattern, but its tag is not the key's digest: not a lock.
    await newClient().set(`${prefix}kp:x:{000000000000}:lock:job:fake`, 'someone', 'PX', 10_000);
    const listed = await listAll(locks, 'job:');
    expect(listed.map((l) => [l.key, l.fencingToken])).toEqual([['job:1', held.fencingToken]]);
    await held.release();
    expect(await listAll(locks, 'job:')).toEqual([]);
    await locks.close();
  });

  it('lists a re-entered hold (a hash) with its count', async () => {
    const locks = createLockClient(redisBackend({ client: newClient(), prefix }));
    const a = await locks.acquire('reentered', { owner: 'svc-a', ttlMs: 10_000 });
    const b = await locks.acquire('reentered', { owner: 'svc-a', ttlMs: 10_000 });
    expect(await listAll(locks, 're')).toMatchObject([
      { key: 'reentered', holder: 'svc-a', count: 2 },
    ]);
    await b.release();
    await a.release();
    await locks.close();
  });
});
