import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, FIXTURES, jsonLines, startDlock } from './dlock.js';

// A leadership lost while COMMAND runs, as the watchdog finds it: the leader's record vanishes
// from the machine's Redis under a running `dlock elect` (what a Redis restarted without
// persistence does to every lease), so the next renewal (at a third of the 6 s TTL, long before
// the guardian would act on its own, at three quarters) fails. dlock must stop COMMAND
// (SIGTERM; this one exits 42 on it) and exit 79.

const LONG = join(FIXTURES, 'long-running.mjs');
const REDIS_URL = process.env.DLOCK_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `dlock-cli-elect-lost:${process.pid}:`;

let redis: Redis;
let env: NodeJS.ProcessEnv;
beforeAll(() => {
  assertBuilt();
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  env = { ...process.env, DLOCK_URL: `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}` };
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe.skipIf(process.platform === 'win32')('dlock elect: leadership lost', () => {
  it.each([
    ['term', 42],
    ['kill', 128 + 9],
  ] as const)(
    '--on-lost %s: the watchdog finds the leadership gone, dlock ends COMMAND and exits 79',
    async (onLost, commandExit) => {
      const name = `lost-${onLost}`;
      const leader = await startDlock(
        ['elect', name, '--ttl', '6s', '--on-lost', onLost, '--json', '--', process.execPath, LONG],
        { env, readyWhen: /ready token=\d+/ },
      );
      try {
        // The leader's record, whatever its hash tag: `<prefix>{<tag>}:el:leader:<name>`.
        const keys = await redis.keys(`${prefix}*:el:leader:${name}`);
        expect(keys).toHaveLength(1);
        await redis.del(keys[0]!);
        const exit = await leader.exited;
        expect(exit.code, leader.output()).toBe(79);
        const events = jsonLines(leader.output());
        expect(events).toContainEqual(
          expect.objectContaining({ event: 'lost', key: name, action: onLost }),
        );
        expect(events).toContainEqual(
          expect.objectContaining({ event: 'lost', key: name, exitCode: commandExit }),
        );
        expect(events.some((e) => e.event === 'resigned')).toBe(false);
        if (onLost === 'term') expect(leader.output()).toContain('child got SIGTERM');
      } finally {
        await leader.kill();
      }
    },
    30_000,
  );
});
