import { runBackendSpiSuite, runConformance } from '@dlock/lock-core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mysqlBackend } from '../src/index.js';
import {
  asPool,
  loseFencingState,
  ownedBackend,
  requireMysql,
  tempTable,
  testPool,
} from './helpers/mysql.js';

const mysql = await requireMysql();

describe.skipIf(!mysql.available)('mysql row', () => {
  const pool = testPool();
  let table = '';
  let drop = async () => {};
  beforeAll(async () => {
    ({ name: table, drop } = await tempTable(pool, 'row'));
  });
  afterAll(async () => {
    await drop();
    await pool.end();
  });

  runBackendSpiSuite({
    name: 'mysql row',
    createBackend: () => mysqlBackend({ pool: asPool(pool), mode: 'row', table }),
    runner: { describe, it, beforeAll, afterAll },
    shortTtlMs: 300,
  });

  runConformance({
    name: 'mysql row',
    createBackend: () => mysqlBackend({ pool: asPool(pool), mode: 'row', table }),
    createOwnedBackend: () => ownedBackend('row', table),
    runner: { describe, it, beforeAll, afterAll },
    faults: { loseFencingState: loseFencingState(pool, () => table) },
    // 300 ms left the watchdog too little slack per renewal under a CI run's load (a lock
    // expired before the test took it away; a set's member before its extend).
    traits: { shortTtlMs: 750 },
  });
});
