import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ManagedProcess,
  makeTempDir,
  requireSharedRedis,
  SHARED_REDIS,
  spawnNodeWorker,
  uniquePrefix,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

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
    const temp = await makeTempDir('dlock-multiprocess-');
    try {
      const counterFile = join(temp.path, 'counter');
      const logFile = join(temp.path, 'log');
      await writeFile(counterFile, '0');
      await writeFile(logFile, '');
      const script = fileURLToPath(new URL('./workers/counter.ts', import.meta.url));
      const env = {
        REDIS_URL: `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}`,
        LOCK_KEY: 'shared-counter',
        LOCK_PREFIX: prefix,
        COUNTER_FILE: counterFile,
        LOG_FILE: logFile,
        SECTIONS: String(SECTIONS),
      };
      for (let i = 0; i < PROCESSES; i++) {
        workers.push(await spawnNodeWorker(script, { name: `counter-${i}`, env }));
      }
      const exits = await Promise.all(workers.map((w) => w.exited));
      for (const [i, exit] of exits.entries()) {
        expect(exit, workers[i]!.output()).toEqual({ code: 0, signal: null });
      }

      expect(Number(await readFile(counterFile, 'utf8'))).toBe(PROCESSES * SECTIONS);
      const entries = (await readFile(logFile, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => {
          const [token, pid, value] = line.split(' ');
          return { token: BigInt(token!), pid: Number(pid), value: Number(value) };
        });
      expect(entries).toHaveLength(PROCESSES * SECTIONS);
      expect(entries.map((e) => e.value)).toEqual(entries.map((_, i) => i + 1));
      for (let i = 1; i < entries.length; i++) {
        expect(entries[i]!.token, `write ${i}`).toBeGreaterThan(entries[i - 1]!.token);
      }
      // Every process took part: exclusion was contended, not sequential by accident.
      expect(new Set(entries.map((e) => e.pid)).size).toBe(PROCESSES);
    } finally {
      await temp.remove();
    }
  }, 90_000);
});
