/**
 * A leader of the election scenarios (test-utils' runElectionWorker) on this package's backend.
 * Env: MYSQL_URL, LOCK_MODE, LOCK_TABLE, plus what the scenario sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { electionWorkerConfig, runElectionWorker } from '@dlock/test-utils';
import { createPool } from 'mysql2/promise';
import { type MysqlLockMode, mysqlBackend } from '../../src/index.js';

const env = process.env as Record<string, string>;
const pool = createPool({ uri: env.MYSQL_URL!, connectionLimit: 4 });
const locks = createLockClient(
  mysqlBackend({ pool, mode: env.LOCK_MODE as MysqlLockMode, table: env.LOCK_TABLE! }),
  { ttlMs: electionWorkerConfig().ttlMs },
);
await runElectionWorker({ locks });
await locks.close();
await pool.end();
