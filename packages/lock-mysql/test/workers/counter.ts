/**
 * One contender of the multi-process exclusion test (test-utils' runCounterSections over this
 * package's backend). Env: MYSQL_URL, LOCK_MODE, LOCK_TABLE, plus what runExclusionWorkers sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { counterWorkerConfig, runCounterSections } from '@dlock/test-utils';
import { createPool } from 'mysql2/promise';
import { type MysqlLockMode, mysqlBackend } from '../../src/index.js';

const env = process.env as Record<string, string>;
const pool = createPool({ uri: env.MYSQL_URL!, connectionLimit: 4 });
const locks = createLockClient(
  mysqlBackend({ pool, mode: env.LOCK_MODE as MysqlLockMode, table: env.LOCK_TABLE! }),
  { ttlMs: 10_000 },
);
await runCounterSections({ locks, ...counterWorkerConfig() });
await locks.close();
await pool.end();
