import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import {
  describeFaultReport,
  type ManagedProcess,
  runFreezeScenario,
  runKillScenario,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { asPool, MYSQL_URL, requireMysql, tempTable, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();
const MODES: MysqlLockMode[] = ['row', 'get-lock', 'for-update'];
const TTL_MS = 2_000;

describe.skipIf(!mysql.available)('a frozen or killed holder (real processes)', () => {
  const pool = testPool();
  const workers: ManagedProcess[] = [];
  const contenders: LockClient[] = [];
  let table = '';
  let drop = async () => {};

  beforeAll(async () => {
    ({ name: table, drop } = await tempTable(pool, 'freeze'));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await Promise.all(contenders.map((c) => c.close()));
    await drop();
    await pool.end();
  });

  const scenario = (mode: MysqlLockMode, key: string) => {
    const contender = createLockClient(mysqlBackend({ pool: asPool(pool), mode, table }), {
      ttlMs: TTL_MS,
    });
    contenders.push(contender);
    return {
      workerScript: fileURLToPath(new URL('./workers/fault-holder.ts', import.meta.url)),
      env: { MYSQL_URL, LOCK_MODE: mode, LOCK_TABLE: table },
      key: `${mode}:${key}`,
      ttlMs: TTL_MS,
      contender,
      track: workers,
    };
  };

  for (const mode of MODES) {
    it(`${mode}, freeze: SIGSTOPped past its TTL, the holder is replaced and sees the loss at its first look`, async () => {
      const report = await runFreezeScenario(scenario(mode, 'frozen'));
      console.log(describeFaultReport(`mysql ${mode}`, 'freeze', report));
    }, 30_000);

    it(`${mode}, kill: SIGKILLed after renewing for two TTLs, the holder frees the key within its TTL`, async () => {
      const report = await runKillScenario(scenario(mode, 'killed'));
      console.log(describeFaultReport(`mysql ${mode}`, 'kill', report));
    }, 30_000);
  }
});
