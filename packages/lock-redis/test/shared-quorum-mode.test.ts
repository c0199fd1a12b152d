import { requireSharedRedis, SHARED_REDIS, uniquePrefix } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, defineScripts, type ScriptCommands } from '../src/scripts/index.js';
import { sharedKeys, sharedScriptKeys } from '../src/shared-keys.js';

const redis = await requireSharedRedis();

/**
 * The shared acquire script's quorum mode (ARGV[11] = '1', used by @dlock/redlock on each node):
 * writer preference only, no strict FIFO among writers.
 */
describe.skipIf(!redis.available)('shared acquire script, quorum mode', () => {
  const prefix = uniquePrefix('test:sem-redis:redlock-mode:');
  let client: Redis;
  let scripts: ScriptCommands;
  /** One acquire on read-write key `key`: the script's status (1 granted, 0 refused). */
  const acquire = async (
    key: string,
    kind: 'r' | 'w',
    owner: string,
    queue: boolean,
    quorum: boolean,
  ) => {
    const keys = sharedKeys(prefix, 'read-write', key);
    const reply = (await scripts[COMMANDS.sharedAcquire](
      ...sharedScriptKeys(keys),
      keys.channel,
      '0',
      0,
      kind,
      owner,
      10_000,
      1,
      1,
      '0',
      queue ? '1' : '0',
      quorum ? '1' : '0',
    )) as [number];
    return reply[0];
  };

  beforeAll(() => {
    client = new Redis(SHARED_REDIS);
    scripts = defineScripts(client);
  });
  afterAll(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.unlink(...keys);
    await client.quit();
  });

  it('a queued writer does not block another writer, but blocks new readers (even queued ones before it)', async () => {
    for (const quorum of [false, true]) {
      const k = `writers-${quorum}`;
      expect(await acquire(k, 'w', 'holder', false, quorum)).toBe(1);
      expect(await acquire(k, 'r', 'reader', true, quorum)).toBe(0);
      expect(await acquire(k, 'w', 'first', true, quorum)).toBe(0);
      const keys = sharedKeys(prefix, 'read-write', k);
      await scripts[COMMANDS.sharedRelease](
        ...sharedScriptKeys(keys),
        keys.channel,
        '0',
        0,
        'w',
        'holder',
      );
      // Strict FIFO: the reader queued first is the head. Quorum mode: the writer's entry sorts
      // first and keeps every new reader out; any writer may take the free key.
      expect(await acquire(k, 'r', 'reader', true, quorum)).toBe(quorum ? 0 : 1);
      if (!quorum) continue;
      expect(await acquire(k, 'w', 'second', false, quorum)).toBe(1);
    }
  });
});
