import { SHARED_MYSQL_URL, uniqueName } from '@dlock/test-utils';
import { createPool, type Pool } from 'mysql2/promise';
import { ensureSchema, type MysqlPoolLike } from '../../src/index.js';

/** The machine's shared MariaDB (root, no password, database `test`); override with DLOCK_MYSQL_URL. */
export const MYSQL_URL = SHARED_MYSQL_URL;

/** The CI gate for MYSQL_URL: a failure in CI, a printed skip elsewhere. */
export { requireMysql } from '@dlock/test-utils';

/**
 * A pool for tests. `maxIdle` makes mysql2 trim idle connections every second: the conformance
 * kit's shutdown test counts open sockets against a baseline, and in the connection-bound modes
 * the held locks' connections come from, and go back to, this shared pool, which would otherwise
 * keep the extra sockets it opened during the test.
 */
export function testPool(connectionLimit = 16): Pool {
  return createPool({ uri: MYSQL_URL, connectionLimit, maxIdle: 2, connectTimeout: 5_000 });
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
    async drop() {
      await pool.query(`DROP TABLE IF EXISTS \`${name}\``);
    },
  };
}

/**
 * The kit's `loseFencingState` fault on a lock table: alternately resets the key's counter to 0
 * (a restore from an old backup) and deletes its state row (a row lost or cleaned up), so both
 * the update and the insert path of a grant meet a lost counter.
 */
export function loseFencingState(pool: Pool, table: () => string): (key: string) => Promise<void> {
  let calls = 0;
  return async (key) => {
    const name = Buffer.from(key, 'utf8');
    if (calls++ % 2 === 0) {
      await pool.query(`UPDATE \`${table()}\` SET \`fencing\` = 0 WHERE \`name\` = ?`, [name]);
    } else {
      await pool.query(`DELETE FROM \`${table()}\` WHERE \`name\` = ?`, [name]);
    }
  };
}
