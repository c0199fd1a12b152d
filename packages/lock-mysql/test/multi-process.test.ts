import { fileURLToPath } from 'node:url';
import { assertExclusion, type ManagedProcess, runExclusionWorkers } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
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
      const result = await runExclusionWorkers({
        workerScript: fileURLToPath(new URL('./workers/counter.ts', import.meta.url)),
        processes: PROCESSES,
        sections: SECTIONS,
        key: `shared-counter:${mode}`,
        name: `counter-${mode}`,
        env: { MYSQL_URL, LOCK_MODE: mode, LOCK_TABLE: table },
        track: workers,
      });
      assertExclusion(result, { processes: PROCESSES, sections: SECTIONS });
    }, 90_000);
  }
});
