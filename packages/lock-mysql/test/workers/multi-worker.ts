/**
 * One of the two processes of the opposite-orders scenario (test-utils' runMultiWorker) on this
 * package's backend. Env: MYSQL_URL, LOCK_MODE, LOCK_TABLE, plus what the scenario sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { multiWorkerConfig, runMultiWorker } from '@dlock/test-utils';
import { createPool } from 'mysql2/promise';
import { type MysqlLockMode, mysqlBackend } from '../../src/index.js';

const env = process.env as Record<string, string>;
const pool = createPool({ uri: env.MYSQL_URL!, connectionLimit: 8 });
const locks = createLockClient(
  mysqlBackend({ pool, mode: env.LOCK_MODE as MysqlLockMode, table: env.LOCK_TABLE! }),
  { ttlMs: multiWorkerConfig().ttlMs },
);
await runMultiWorker({ locks });
await locks.close();
await pool.end();
