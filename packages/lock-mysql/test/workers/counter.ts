/**
 * Multi-process exclusion worker: SECTIONS times, take the lock, read the shared counter file,
 * yield to the event loop and the OS, write counter+1 and append `token pid value` to the log,
 * release. A lost update or an out-of-order token shows up in the files the test checks.
 * Env: MYSQL_URL, LOCK_MODE, LOCK_TABLE, LOCK_KEY, COUNTER_FILE, LOG_FILE, SECTIONS.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep, setImmediate as yieldNow } from 'node:timers/promises';
import { createLockClient } from '@dlock/lock-core';
import { createPool } from 'mysql2/promise';
import { type MysqlLockMode, mysqlBackend } from '../../src/index.js';

const env = process.env as Record<string, string>;
const pool = createPool({ uri: env.MYSQL_URL!, connectionLimit: 4 });
const locks = createLockClient(
  mysqlBackend({ pool, mode: env.LOCK_MODE as MysqlLockMode, table: env.LOCK_TABLE! }),
  { ttlMs: 10_000 },
);
console.log('READY');
for (let i = 0; i < Number(env.SECTIONS); i++) {
  await locks.using(
    env.LOCK_KEY!,
    async (_signal, lock) => {
      const value = Number(await readFile(env.COUNTER_FILE!, 'utf8'));
      await yieldNow();
      if (i % 7 === 0) await sleep(1);
      await writeFile(env.COUNTER_FILE!, String(value + 1));
      await appendFile(env.LOG_FILE!, `${lock.fencingToken} ${process.pid} ${value + 1}\n`);
    },
    { waitTimeoutMs: 60_000 },
  );
}
await locks.close();
await pool.end();
console.log('DONE');
