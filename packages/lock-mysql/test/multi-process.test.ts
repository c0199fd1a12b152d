import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ManagedProcess, makeTempDir, spawnNodeWorker } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlLockMode } from '../src/index.js';
import { MYSQL_URL, requireMysql, tempTable, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();
const PROCESSES = 6;
const SECTIONS = 40;
const MODES: MysqlLockMode[] = ['row', 'get-lock', 'for-update'];

describe.skipIf(!mysql.available)('multi-process exclusion', () => {
  const pool = testPool(2);
  const workers: ManagedProcess[] = [];
  let table = '';
  let drop = async () => {};
  beforeAll(async () => {
    ({ name: table, drop } = await tempTable(pool, 'multiprocess'));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await drop();
    await pool.end();
  });

  for (const mode of MODES) {
    it(`[${mode}] ${PROCESSES} processes x ${SECTIONS} read-yield-write sections: no lost update, tokens increase in write order`, async () => {
      const temp = await makeTempDir('dlock-mysql-multiprocess-');
      try {
        const counterFile = join(temp.path, 'counter');
        const logFile = join(temp.path, 'log');
        await writeFile(counterFile, '0');
        await writeFile(logFile, '');
        const script = fileURLToPath(new URL('./workers/counter.ts', import.meta.url));
        const env = {
          MYSQL_URL,
          LOCK_MODE: mode,
          LOCK_TABLE: table,
          LOCK_KEY: `shared-counter:${mode}`,
          COUNTER_FILE: counterFile,
          LOG_FILE: logFile,
          SECTIONS: String(SECTIONS),
        };
        const started = await Promise.all(
          Array.from({ length: PROCESSES }, (_, i) =>
            spawnNodeWorker(script, { name: `counter-${mode}-${i}`, env }),
          ),
        );
        workers.push(...started);
        const exits = await Promise.all(started.map((w) => w.exited));
        for (const [i, exit] of exits.entries()) {
          expect(exit, started[i]!.output()).toEqual({ code: 0, signal: null });
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
  }
});
