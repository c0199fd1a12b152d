import {
  createLockClient,
  type ListedState,
  type LockBackend,
  LockBackendError,
} from '@dlock/lock-core';
import { lockKeys } from '@dlock/lock-redis/internals';
import { requireRedisBinaries } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const PREFIX = 'list:';

/** Every page of the raw SPI listing, so a key reported twice would show. */
async function pages(backend: LockBackend, prefix: string, limit: number): Promise<ListedState[]> {
  const found: ListedState[] = [];
  let cursor: string | undefined;
  do {
    const page = await backend.list!({ prefix, limit, cursor });
    found.push(...page.locks);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return found;
}

describe.skipIf(!binaries.available)('redlock list (5 redis-servers)', () => {
  let nodes: RedisNodes;
  const backends: LockBackend[] = [];
  const newBackend = async () => {
    const backend = redlockBackend({
      clients: await nodes.clients(),
      prefix: PREFIX,
      nodeTimeoutMs: 100,
    });
    backends.push(backend);
    return backend;
  };
  beforeAll(async () => {
    nodes = await startRedisNodes(5);
  });
  afterAll(async () => {
    await Promise.allSettled(backends.map((b) => b.close()));
    await nodes?.dispose();
  });

  it('lists what a majority holds, once, even with 2 of 5 nodes down; fails with 3 down', async () => {
    const locks = createLockClient(await newBackend());
    const lister = await newBackend();
    const held = await Promise.all(
      ['job:a', 'job:b', 'job:c'].map((k) => locks.acquire(k, { ttlMs: 30_000 })),
    );
    // A minority leftover (2 of 5 nodes), as a failed grant leaves behind: not a lock.
    const raw = await nodes.clients();
    for (const client of raw.slice(0, 2)) {
      await (client as unknown as { set(...a: unknown[]): Promise<unknown> }).set(
        lockKeys(PREFIX, 'job:minority').lock,
        'someone',
        'PX',
        30_000,
      );
    }
    for (const limit of [1, 100]) {
      const listed = await pages(lister, 'job:', limit);
      expect(listed.map((s) => s.key).sort(), `limit ${limit}`).toEqual([
        'job:a',
        'job:b',
        'job:c',
      ]);
      const a = listed.find((s) => s.key === 'job:a')!;
      expect(a.fencingToken).toBe(held[0]!.fencingToken);
    }
    await nodes.servers[0]!.process.kill();
    await nodes.servers[1]!.process.kill();
    expect((await pages(lister, 'job:', 100)).map((s) => s.key).sort()).toEqual([
      'job:a',
      'job:b',
      'job:c',
    ]);
    await nodes.servers[2]!.process.kill();
    await expect(pages(lister, 'job:', 100)).rejects.toSatisfy(LockBackendError.isInstance);
  });
});
