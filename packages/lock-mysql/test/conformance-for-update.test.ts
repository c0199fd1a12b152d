import { runBackendSpiSuite, runConformance } from '@dlock/lock-core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mysqlBackend } from '../src/index.js';
import { asPool, loseFencingState, requireMysql, tempTable, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();

describe.skipIf(!mysql.available)('mysql for-update', () => {
  const pool = testPool();
  let table = '';
  let drop = async () => {};
  beforeAll(async () => {
    ({ name: table, drop } = await tempTable(pool, 'for_update'));
  });
  afterAll(async () => {
    await drop();
    await pool.end();
  });

  runBackendSpiSuite({
    name: 'mysql for-update',
    createBackend: () => mysqlBackend({ pool: asPool(pool), mode: 'for-update', table }),
    runner: { describe, it, beforeAll, afterAll },
    shortTtlMs: 300,
  });

  runConformance({
    name: 'mysql for-update',
    createBackend: () => mysqlBackend({ pool: asPool(pool), mode: 'for-update', table }),
    runner: { describe, it, beforeAll, afterAll },
    faults: { loseFencingState: loseFencingState(pool, () => table) },
    traits: { shortTtlMs: 300 },
  });
});
