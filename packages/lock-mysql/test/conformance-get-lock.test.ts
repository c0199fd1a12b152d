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
    createOwnedBackend: () => ownedBackend('get-lock', table),
    runner: { describe, it, beforeAll, afterAll },
    faults: { loseFencingState: loseFencingState(pool, () => table) },
    // 300 ms left the watchdog too little slack per renewal under a CI run's load (a lock
    // expired before the test took it away; a set's member before its extend).
    traits: { shortTtlMs: 750, maxHeldLocks: 10 },
  });
});
