import { runSharedSpiSuite } from '@dlock/lock-core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { asPool, requireMysql, testPool } from './helpers/mysql.js';
import { sharedTempTables } from './helpers/shared.js';

const mysql = await requireMysql();

// Shared keys are rows on the server clock whatever the mutex mode: the suite runs in each.
for (const mode of ['row', 'for-update', 'get-lock'] satisfies MysqlLockMode[]) {
  describe.skipIf(!mysql.available)(`mysql ${mode}: shared keys`, () => {
    const pool = testPool();
    let table = '';
    let drop = async () => {};
    beforeAll(async () => {
      ({ name: table, drop } = await sharedTempTables(pool, mode.replace('-', '_')));
    });
    afterAll(async () => {
      await drop();
      await pool.end();
    });

    runSharedSpiSuite({
      name: `mysql ${mode}`,
      createBackend: () => mysqlBackend({ pool: asPool(pool), mode, table }),
      runner: { describe, it, beforeAll, afterAll },
      shortTtlMs: 300,
    });
  });
}
