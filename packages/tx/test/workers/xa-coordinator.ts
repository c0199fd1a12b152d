/**
 * A coordinator process that runs one transfer (10 from A's account 1 to B's account 1) and stops
 * dead at KILL_AT, printing KILLPOINT, so the test can SIGKILL it there:
 * - after-one-prepare: A's branch prepared, B's running
 * - after-all-prepares: both prepared, decision not logged
 * - after-decision: decision logged, no XA COMMIT sent
 * - between-commits: A committed, B's XA COMMIT not sent
 * With LRC=1 the log is the table LOG_TABLE on RM A (last-resource commit: A's branch is a local
 * transaction that commits with the decision), and the steps are:
 * - lrc-after-prepare: B prepared, A's local transaction open, the decision not inserted
 * - lrc-before-commit: the decision inserted in A's open transaction, COMMIT not sent
 * - lrc-after-commit: A committed with the decision, B's XA COMMIT not sent
 */
import { createPool } from 'mysql2/promise';
import { createTransactionManager, mysqlTxLog, type TxLog } from '../../src/index.js';
import type { MysqlConnectionLike, MysqlPoolLike } from '../../src/pool-types.js';

const killAt = process.env.KILL_AT!;
const poolA = createPool({ uri: process.env.RM_A!, connectionLimit: 2 });
const poolB = createPool({ uri: process.env.RM_B!, connectionLimit: 2 });
const logPool = createPool({ uri: process.env.LOG_URL!, connectionLimit: 2 });

const hang = (): Promise<never> => {
  console.log('KILLPOINT');
  return new Promise(() => setInterval(() => {}, 1000));
};

let markACommitted: () => void = () => {};
const aCommitted = new Promise<void>((resolve) => {
  markACommitted = resolve;
});

function hooked(pool: MysqlPoolLike, name: 'a' | 'b'): MysqlPoolLike {
  return {
    async getConnection() {
      const conn = await pool.getConnection();
      const wrapped: MysqlConnectionLike = {
        async query(sql: string, values?: unknown[]) {
          if (name === 'a' && sql.startsWith('INSERT IGNORE INTO')) {
            if (killAt === 'lrc-after-prepare') return hang();
            const result = await conn.query(sql, values);
            if (killAt === 'lrc-before-commit') return hang();
            return result;
          }
          if (killAt === 'lrc-after-commit' && name === 'b' && sql.startsWith('XA COMMIT')) {
            return hang();
          }
          if (killAt === 'between-commits' && sql.startsWith('XA COMMIT')) {
            if (name === 'b') {
              await aCommitted;
              return hang();
            }
            const result = await conn.query(sql, values);
            markACommitted();
            return result;
          }
          return conn.query(sql, values);
        },
        release: () => conn.release(),
        destroy: () => conn.destroy(),
      };
      return wrapped;
    },
  };
}

const lrc = process.env.LRC === '1';
const resourceA = hooked(poolA, 'a');
const resourceB = hooked(poolB, 'b');
const real = mysqlTxLog(lrc ? resourceA : logPool, { table: process.env.LOG_TABLE! });
const log: TxLog = {
  ...real,
  async create(record) {
    if (killAt === 'after-all-prepares') return hang();
    const created = await real.create(record);
    if (killAt === 'after-decision') return hang();
    return created;
  },
};

const tm = createTransactionManager({
  log,
  resources: { a: resourceA, b: resourceB },
  recoveryIntervalMs: false,
  timeoutMs: Number(process.env.TIMEOUT_MS ?? 1000),
  phaseTwoTimeoutMs: 200,
  // AWAIT=0: xa() resolves at the decision and the process exits with phase two unfinished.
  awaitPhaseTwo: process.env.AWAIT !== '0',
});

await tm.xa(async (tx) => {
  console.log(`GID ${tx.gid}`);
  await tx.branch('a', (conn) =>
    conn.query('UPDATE accounts SET balance = balance - 10 WHERE id = 1'),
  );
  await tx.branch('b', async (conn) => {
    await conn.query('UPDATE accounts SET balance = balance + 10 WHERE id = 1');
    if (killAt === 'after-one-prepare') await hang();
  });
});
console.log('DONE');
process.exit(0);
