/**
 * Fault-test worker: takes a lock with the watchdog on, prints `HELD <token>` and keeps running
 * until it is killed (the SIGKILL is the point of the test). With LOCK_STALL=1 it takes the lock
 * without the watchdog and then freezes its event loop, like a process stuck in a long
 * synchronous task: no timer of its own can fire.
 * Env: MYSQL_URL, LOCK_MODE, LOCK_TABLE, LOCK_KEY, LOCK_TTL_MS, LOCK_STALL.
 */
import { createLockClient } from '@dlock/lock-core';
import { createPool } from 'mysql2/promise';
import { type MysqlLockMode, mysqlBackend } from '../../src/index.js';

const env = process.env as Record<string, string>;
const pool = createPool({ uri: env.MYSQL_URL!, connectionLimit: 4 });
const locks = createLockClient(
  mysqlBackend({ pool, mode: env.LOCK_MODE as MysqlLockMode, table: env.LOCK_TABLE! }),
  { ttlMs: Number(env.LOCK_TTL_MS) },
);
const stall = env.LOCK_STALL === '1';
const lock = await locks.acquire(env.LOCK_KEY!, { autoExtend: !stall, waitTimeoutMs: 10_000 });
console.log(`HELD ${lock.fencingToken}`);
if (stall) {
  // Let the line reach the parent, then block the thread (the parent kills us).
  setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000), 50);
}
setInterval(() => {}, 1_000); // the watchdog timer is unref'd; stay alive until killed
