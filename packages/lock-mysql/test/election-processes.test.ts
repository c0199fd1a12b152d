import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import { electionScenarioTests, type ManagedProcess } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { asPool, MYSQL_URL, requireMysql, testPool } from './helpers/mysql.js';
import { sharedTempTables } from './helpers/shared.js';

const mysql = await requireMysql();
const TTL_MS = 1_500;

// Leaders in child processes, killed and frozen; the rival in this process. `row` and `get-lock`
// (the election is the same table in every mode; get-lock checks the connection-bound wiring).
describe.skipIf(!mysql.available)('election scenarios (real processes)', () => {
  const pool = testPool();
  const workers: ManagedProcess[] = [];
  const rivals: LockClient[] = [];
  let table = '';
  let drop = async () => {};

  beforeAll(async () => {
    ({ name: table, drop } = await sharedTempTables(pool, 'el_proc'));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await Promise.allSettled(rivals.map((c) => c.close()));
    await drop();
    await pool.end();
  });

  const base = (mode: MysqlLockMode) => {
    const rival = createLockClient(mysqlBackend({ pool: asPool(pool), mode, table }), {
      ttlMs: TTL_MS,
    });
    rivals.push(rival);
    return {
      workerScript: fileURLToPath(new URL('./workers/election-worker.ts', import.meta.url)),
      env: { MYSQL_URL, LOCK_MODE: mode, LOCK_TABLE: table },
      ttlMs: TTL_MS,
      track: workers,
      rival,
    };
  };

  for (const mode of ['row', 'get-lock'] satisfies MysqlLockMode[]) {
    electionScenarioTests({
      it,
      label: `mysql ${mode}`,
      prefix: `${mode}: `,
      base: () => base(mode),
      history: mode === 'row',
      timeoutMs: 90_000,
    });
  }
});
