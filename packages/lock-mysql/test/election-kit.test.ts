import { runElectionConformance, runElectionSpiSuite } from '@dlock/lock-core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { asPool, loseTermState, requireMysql, testPool } from './helpers/mysql.js';
import { sharedTempTables } from './helpers/shared.js';

const mysql = await requireMysql();

// Elections are rows on the server clock whatever the mutex mode: both kits run in each.
for (const mode of ['row', 'for-update', 'get-lock'] satisfies MysqlLockMode[]) {
  describe.skipIf(!mysql.available)(`mysql ${mode}: election kits`, () => {
    const pool = testPool();
    let table = '';
    let drop = async () => {};
    beforeAll(async () => {
      ({ name: table, drop } = await sharedTempTables(pool, `ek_${mode.replace('-', '_')}`));
    });
    afterAll(async () => {
      await drop();
      await pool.end();
    });
    const createBackend = () => mysqlBackend({ pool: asPool(pool), mode, table });
    const runner = { describe, it, beforeAll, afterAll };

    runElectionSpiSuite({
      name: `mysql ${mode}`,
      createBackend,
      runner,
      shortTtlMs: 300,
      loseTermState: loseTermState(pool, () => table),
    });
    runElectionConformance({
      name: `mysql ${mode}`,
      createBackend,
      runner,
      traits: { shortTtlMs: 300 },
    });
  });
}
