import type { LockBackend } from '@dlock/lock-core';
import { SHARED_MYSQL_URL, uniqueName } from '@dlock/test-utils';
import { createPool, type Pool } from 'mysql2/promise';
import { connectBackend } from '../../src/connect-backend.js';
import { ELECTION_SUFFIX } from '../../src/election/election-table.js';
import { ensureSchema, type MysqlPoolLike } from '../../src/index.js';
import { SHARED_SUFFIXES, sharedTableName } from '../../src/shared/shared-tables.js';

/** The machine's shared MariaDB (root, no password, database `test`); override with DLOCK_MYSQL_URL. */
export const MYSQL_URL = SHARED_MYSQL_URL;

/** The CI gate for MYSQL_URL: a failure in CI, a printed skip elsewhere. */
export { requireMysql } from '@dlock/test-utils';

/**
 * A pool for tests. `maxIdle` makes mysql2 trim idle connections every second, so the sockets a
 * burst of concurrent calls opened do not linger for the rest of the file. (The kit's shutdown
 * test counts sockets on `ownedBackend`s, not on this pool.)
 */
export function testPool(connectionLimit = 16): Pool {
  return createPool({ uri: MYSQL_URL, connectionLimit, maxIdle: 2, connectTimeout: 5_000 });
}

/**
 * A backend on its own pool, as `connect(url)` builds one (the conformance kit's
 * `createOwnedBackend`): its `close()` must end every connection it opened.
 */
export function ownedBackend(mode: string, table: string): Promise<LockBackend> {
  const url = new URL(MYSQL_URL);
  url.searchParams.set('mode', mode);
  url.searchParams.set('table', table);
  return connectBackend(url);
}

/** mysql2's Pool as the adapter's structural pool type (this also checks that it fits). */
export function asPool(pool: Pool): MysqlPoolLike {
  return pool;
}

/** A lock table of this test run's own, created now; `drop()` removes it. */
export async function tempTable(
  pool: Pool,
  label: string,
): Promise<{ name: string; drop(): Promise<void> }> {
  const name = uniqueName(`dlock_test_${label}_`);
  await ensureSchema(pool, { table: name });
  return {
    name,
    drop: () => dropTables(pool, name),
  };
}

/**
 * Drops the lock table `name` and the tables `ensureSchema` created beside it (the three of
 * shared keys and the election table).
 */
export async function dropTables(pool: Pool, name: string): Promise<void> {
  for (const suffix of [...Object.values(SHARED_SUFFIXES), ELECTION_SUFFIX]) {
    await pool.query(`DROP TABLE IF EXISTS \`${sharedTableName(name, suffix)}\``);
  }
  await pool.query(`DROP TABLE IF EXISTS \`${name}\``);
}

/**
 * The kit's `loseFencingState` fault on a lock table: alternately resets the key's counter to 0
 * (a restore from an old backup) and deletes its state row (a row lost or cleaned up), so both
 * the update and the insert path of a grant meet a lost counter.
 */
export function loseFencingState(pool: Pool, table: () => string): (key: string) => Promise<void> {
  return loseCounter(pool, table, 'fencing');
}

/** The election kit's `loseTermState`: the same two faults on the election table's `term`. */
export function loseTermState(pool: Pool, table: () => string): (name: string) => Promise<void> {
  return loseCounter(pool, () => sharedTableName(table(), ELECTION_SUFFIX), 'term');
}

function loseCounter(
  pool: Pool,
  table: () => string,
  counter: 'fencing' | 'term',
): (key: string) => Promise<void> {
  let calls = 0;
  return async (key) => {
    const name = Buffer.from(key, 'utf8');
    if (calls++ % 2 === 0) {
      await pool.query(`UPDATE \`${table()}\` SET \`${counter}\` = 0 WHERE \`name\` = ?`, [name]);
    } else {
      await pool.query(`DELETE FROM \`${table()}\` WHERE \`name\` = ?`, [name]);
    }
  };
}
