import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ManagedProcess,
  makeTempDir,
  requireRedisBinaries,
  spawnNodeWorker,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const PROCESSES = 4;
const SECTIONS = 25;

describe.skipIf(!binaries.available)('multi-process exclusion over 5 redlock nodes', () => {
  let nodes: RedisNodes;
  const workers: ManagedProcess[] = [];
  beforeAll(async () => {
    nodes = await startRedisNodes(5);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await nodes?.dispose();
  });

  it(`${PROCESSES} processes x ${SECTIONS} read-yield-write sections: no lost update, tokens increase in write order`, async () => {
    const temp = await makeTempDir('dlock-redlock-mp-');
    try {
      const counterFile = join(temp.path, 'counter');
      const logFile = join(temp.path, 'log');
      await writeFile(counterFile, '0');
      await writeFile(logFile, '');
      const script = fileURLToPath(new URL('./workers/counter.ts', import.meta.url));
      const env = {
        NODE_PORTS: nodes.servers.map((s) => s.port).join(','),
        LOCK_KEY: 'shared-counter',
        LOCK_PREFIX: 'mp:',
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
