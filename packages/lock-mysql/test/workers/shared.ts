/**
 * Worker of the cross-process shared-key scenarios (`@dlock/test-utils` shared-scenarios): a
 * lock client on this backend with the scenario's TTL, driven by `runSharedWorker`.
 * Env: MYSQL_URL, LOCK_MODE, LOCK_TABLE, plus the scenario's own.
 */
import { createLockClient } from '@dlock/lock-core';
import { runSharedWorker, sharedWorkerConfig } from '@dlock/test-utils';
import { createPool } from 'mysql2/promise';
import { type MysqlLockMode, mysqlBackend } from '../../src/index.js';

const env = process.env as Record<string, string>;
const pool = createPool({ uri: env.MYSQL_URL!, connectionLimit: 4 });
const locks = createLockClient(
  mysqlBackend({ pool, mode: env.LOCK_MODE as MysqlLockMode, table: env.LOCK_TABLE! }),
  { ttlMs: sharedWorkerConfig().ttlMs },
);
await runSharedWorker({ locks });
await locks.close();
await pool.end();
