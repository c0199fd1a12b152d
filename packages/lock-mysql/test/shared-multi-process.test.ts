import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import {
  describeSharedReport,
  type ManagedProcess,
  runPermitHistory,
  runPermitKill,
  runReaderKill,
  runWriterUnderReaders,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlBackend } from '../src/index.js';
import { asPool, MYSQL_URL, requireMysql, testPool } from './helpers/mysql.js';
import { sharedTempTables } from './helpers/shared.js';

const mysql = await requireMysql();
const workerScript = fileURLToPath(new URL('./workers/shared.ts', import.meta.url));
const TTL = 1_000;

// Row mode only: shared keys are the same rows in every mode (the SPI suite runs all three).
describe.skipIf(!mysql.available)('mysql shared keys across processes', () => {
  const pool = testPool(8);
  const workers: ManagedProcess[] = [];
  let table = '';
  let drop = async () => {};
  let locks: LockClient;
  let env: Record<string, string> = {};
  beforeAll(async () => {
    ({ name: table, drop } = await sharedTempTables(pool, 'procs'));
    env = { MYSQL_URL, LOCK_MODE: 'row', LOCK_TABLE: table };
    locks = createLockClient(mysqlBackend({ pool: asPool(pool), mode: 'row', table }), {
      ttlMs: TTL,
    });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await locks.close();
    await drop();
    await pool.end();
  });
  const base = (label: string) => ({
    workerScript,
    env,
    key: `h_mysql:procs:${label}:${Date.now()}`,
    ttlMs: TTL,
    track: workers,
  });

  it('5 processes against limit 2: never more than 2 hold, and 2 do', async () => {
    const report = await runPermitHistory({
      ...base('history'),
      limit: 2,
      processes: 5,
      rounds: 8,
    });
    expect(report).toEqual({ spans: 40, maxOverlap: 2 });
  }, 120_000);

  it("a SIGKILLed holder's permit comes back within its TTL", async () => {
    const report = await runPermitKill({ ...base('permit-kill'), contender: locks });
    console.log(describeSharedReport('mysql row', 'permit kill', report));
  }, 60_000);

  it('a SIGKILLed reader stops blocking a writer after its own TTL while another reader renews', async () => {
    const report = await runReaderKill({ ...base('reader-kill'), contender: locks });
    console.log(describeSharedReport('mysql row', 'reader kill', report));
  }, 60_000);

  it('a queued writer is served within one reader TTL under a stream of readers', async () => {
    const report = await runWriterUnderReaders({ ...base('writer'), contender: locks });
    console.log(describeSharedReport('mysql row', 'writer under readers', report));
  }, 60_000);
});
