import { runBackendSpiSuite, runConformance } from '@dlock/lock-core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mysqlBackend } from '../src/index.js';
import { asPool, loseFencingState, requireMysql, tempTable, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();

describe.skipIf(!mysql.available)('mysql get-lock', () => {
  const pool = testPool();
  let table = '';
  let drop = async () => {};
  beforeAll(async () => {
    ({ name: table, drop } = await tempTable(pool, 'get_lock'));
  });
  afterAll(async () => {
    await drop();
    await pool.end();
  });

  runBackendSpiSuite({
    name: 'mysql get-lock',
    createBackend: () => mysqlBackend({ pool: asPool(pool), mode: 'get-lock', table }),
    runner: { describe, it, beforeAll, afterAll },
    shortTtlMs: 300,
  });

  runConformance({
    name: 'mysql get-lock',
    createBackend: () => mysqlBackend({ pool: asPool(pool), mode: 'get-lock', table }),
    runner: { describe, it, beforeAll, afterAll },
    faults: { loseFencingState: loseFencingState(pool, () => table) },
    traits: { shortTtlMs: 300 },
  });
});
