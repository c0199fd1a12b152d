import {
  type PrivateMariadb,
  SHARED_MYSQL_URL,
  startPrivateMariadb,
  uniqueName,
} from '@dlock/test-utils';
import { createPool, type Pool } from 'mysql2/promise';
import { ensureSchema } from '../../src/index.js';

export const ACCOUNTS = 4;
export const OPENING = 1000;

/** Two private MariaDB servers (the RMs) with `accounts` tables, and a log table on the shared server. */
export interface Bank {
  readonly rmA: PrivateMariadb;
  readonly rmB: PrivateMariadb;
  readonly poolA: Pool;
  readonly poolB: Pool;
  readonly logPool: Pool;
  /** The log table's name, on the shared server (logPool) and on RM A (poolA). */
  readonly logTable: string;
  /** Sum of every balance on both RMs. */
  total(): Promise<number>;
  balance(pool: Pool, id: number): Promise<number>;
  /** Rows `XA RECOVER` lists on each RM. */
  prepared(): Promise<{ a: number; b: number }>;
  reset(): Promise<void>;
  dispose(): Promise<void>;
}

export function rmPool(url: string): Pool {
  return createPool({ uri: url, connectionLimit: 12, maxIdle: 2, connectTimeout: 2_000 });
}

export async function startBank(): Promise<Bank> {
  const started = await Promise.allSettled([startPrivateMariadb(), startPrivateMariadb()]);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    // Stop the one that did start before reporting why the other did not.
    for (const s of started) if (s.status === 'fulfilled') await s.value.dispose();
    throw failed.reason;
  }
  const [rmA, rmB] = started.map((s) => (s as PromiseFulfilledResult<PrivateMariadb>).value) as [
    PrivateMariadb,
    PrivateMariadb,
  ];
  const poolA = rmPool(rmA.url);
  const poolB = rmPool(rmB.url);
  const logPool = createPool({ uri: SHARED_MYSQL_URL, connectionLimit: 8, maxIdle: 2 });
  const logTable = uniqueName('dlock_tx_test_');
  await ensureSchema(logPool, { table: logTable });
  // The same table on RM A, for the last-resource commit (the log beside a branch).
  await ensureSchema(poolA, { table: logTable });
  const reset = async () => {
    for (const pool of [poolA, poolB]) {
      await pool.query(
        'CREATE TABLE IF NOT EXISTS accounts (id INT PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB',
      );
      await pool.query('DELETE FROM accounts');
      for (let id = 1; id <= ACCOUNTS; id++) {
        await pool.query('INSERT INTO accounts VALUES (?, ?)', [id, OPENING]);
      }
    }
  };
  await reset();
  const count = async (pool: Pool) => ((await pool.query('XA RECOVER'))[0] as unknown[]).length;
  return {
    rmA,
    rmB,
    poolA,
    poolB,
    logPool,
    logTable,
    reset,
    async total() {
      let sum = 0;
      for (const pool of [poolA, poolB]) {
        const [rows] = await pool.query('SELECT COALESCE(SUM(balance), 0) AS s FROM accounts');
        sum += Number((rows as { s: number }[])[0]!.s);
      }
      return sum;
    },
    async balance(pool, id) {
      const [rows] = await pool.query('SELECT balance FROM accounts WHERE id = ?', [id]);
      return (rows as { balance: number }[])[0]!.balance;
    },
    async prepared() {
      return { a: await count(poolA), b: await count(poolB) };
    },
    async dispose() {
      await logPool.query(`DROP TABLE IF EXISTS \`${logTable}\``);
      await Promise.all([poolA.end(), poolB.end(), logPool.end()]);
      await Promise.all([rmA.dispose(), rmB.dispose()]);
    },
  };
}
