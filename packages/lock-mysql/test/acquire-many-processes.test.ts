import { fileURLToPath } from 'node:url';
import { type ManagedProcess, runOppositeOrders } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlLockMode } from '../src/index.js';
import { MYSQL_URL, requireMysql, tempTable, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();

// `row` takes each set in one transaction; `get-lock` has no atomic attempt, so lock-core takes
// the keys one by one in canonical order: both must finish every round, exclusive per key.
describe.skipIf(!mysql.available)('several keys in opposite orders from two processes', () => {
  const pool = testPool();
  const workers: ManagedProcess[] = [];
  let table = '';
  let drop = async () => {};

  beforeAll(async () => {
    ({ name: table, drop } = await tempTable(pool, 'many_proc'));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await drop();
    await pool.end();
  });

  for (const mode of ['row', 'get-lock'] satisfies MysqlLockMode[]) {
    it(`${mode}: 200 rounds each, no deadlock, no key held twice at once`, async () => {
      const report = await runOppositeOrders({
        workerScript: fileURLToPath(new URL('./workers/multi-worker.ts', import.meta.url)),
        env: { MYSQL_URL, LOCK_MODE: mode, LOCK_TABLE: table },
        keys: [`${mode}:a`, `${mode}:b`, `${mode}:c`],
        ttlMs: 5_000,
        track: workers,
      });
      expect(report).toEqual({ sets: 400, maxOverlap: 1 });
    }, 180_000);
  }
});
