import { TxArgumentError, TxBackendError } from './errors.js';
import type { MysqlConnectionLike, MysqlPoolLike, WriteResultLike } from './pool-types.js';
import { quoteTable } from './table-name.js';

/** The barrier table's DDL (one per participant database), for migration tools. */
export function barrierSchemaSql(table = 'dlock_tx_barrier'): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (
  \`gid\` VARCHAR(64) CHARACTER SET ascii NOT NULL,
  \`branch\` VARCHAR(64) CHARACTER SET ascii NOT NULL,
  \`op\` VARCHAR(16) CHARACTER SET ascii NOT NULL,
  \`reason\` VARCHAR(16) CHARACTER SET ascii NOT NULL,
  \`created_at\` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (\`gid\`, \`branch\`, \`op\`),
  KEY \`created\` (\`created_at\`)
) ENGINE=InnoDB`;
}

export interface BarrierOptions {
  /**
   * The barrier table's name (optionally `database.table`).
   * @default 'dlock_tx_barrier'
   */
  table?: string;
}

/** Creates the barrier table if it does not exist. Idempotent. */
export async function ensureBarrierSchema(
  pool: MysqlPoolLike,
  options: BarrierOptions = {},
): Promise<void> {
  const conn = await pool.getConnection().catch((e) => {
    throw new TxBackendError('barrier ensureSchema', e);
  });
  try {
    await conn.query(barrierSchemaSql(options.table));
    conn.release();
  } catch (error) {
    conn.destroy();
    throw new TxBackendError('barrier ensureSchema', error);
  }
}

/** Barrier ops: TCC's three, and a saga's forward action and its compensation. */
export type BarrierOp = 'try' | 'confirm' | 'cancel' | 'action' | 'compensate';

export interface BarrierCall {
  readonly gid: string;
  readonly branch: string;
  readonly op: BarrierOp;
}

/**
 * What `run` did: `'ran'` (the callback ran and committed), `'duplicate'` (this op already ran
 * for this branch: nothing done), `'null-compensation'` (a cancel/compensate with no try/action
 * before it: nothing to undo, and a late try is now blocked), `'blocked'` (a try/action after its
 * cancel/compensate: refused, so it cannot hang).
 */
export type BarrierOutcome = 'ran' | 'duplicate' | 'null-compensation' | 'blocked';

export interface BarrierResult<T> {
  readonly outcome: BarrierOutcome;
  /** What the callback resolved, when it ran. */
  readonly value: T | undefined;
}

export interface Barrier {
  /**
   * Runs `fn` inside one local transaction guarded by the barrier rows (DTM's algorithm): the
   * business SQL and the guard commit or roll back together. A throwing `fn` rolls back and the
   * error propagates (the op can be retried).
   */
  run<T>(
    call: BarrierCall,
    fn: (conn: MysqlConnectionLike) => Promise<T>,
  ): Promise<BarrierResult<T>>;
  /** Deletes barrier rows older than `olderThanMs`; resolves how many. Keep it far above any transaction's lifetime. */
  cleanup(olderThanMs: number, options?: { batch?: number }): Promise<number>;
}

const ORIGIN: Record<BarrierOp, BarrierOp | null> = {
  try: null,
  action: null,
  confirm: null,
  cancel: 'try',
  compensate: 'action',
};

function checkId(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > 64) {
    throw new TxArgumentError(`barrier ${name} must be a string of 1-64 bytes`);
  }
  return value;
}

/** The participant-side sub-transaction barrier on `pool` (the participant's own database). */
export function barrier(pool: MysqlPoolLike, options: BarrierOptions = {}): Barrier {
  const table = quoteTable(options.table ?? 'dlock_tx_barrier');
  const insert = `INSERT IGNORE INTO ${table} (gid, branch, op, reason) VALUES (?, ?, ?, ?)`;
  return {
    async run(call, fn) {
      const gid = checkId('gid', call?.gid);
      const branch = checkId('branch', call?.branch);
      const op = call?.op;
      if (!(op in ORIGIN))
        throw new TxArgumentError(`barrier op must be one of ${Object.keys(ORIGIN).join(', ')}`);
      if (typeof fn !== 'function') throw new TxArgumentError('barrier.run() needs a function');
      let conn: MysqlConnectionLike;
      try {
        conn = await pool.getConnection();
      } catch (error) {
        throw new TxBackendError('barrier connect', error, gid);
      }
      let business = false;
      try {
        await conn.query('START TRANSACTION');
        const origin = ORIGIN[op];
        // The cancel's "try" row goes in first: its insert is what a late try collides with.
        if (origin) {
          const [first] = (await conn.query(insert, [gid, branch, origin, op])) as [
            WriteResultLike,
            unknown,
          ];
          if (first.affectedRows === 1) {
            await conn.query(insert, [gid, branch, op, op]);
            await conn.query('COMMIT');
            conn.release();
            return { outcome: 'null-compensation', value: undefined };
          }
        }
        const [own] = (await conn.query(insert, [gid, branch, op, op])) as [
          WriteResultLike,
          unknown,
        ];
        if (own.affectedRows === 0) {
          await conn.query('COMMIT');
          conn.release();
          // A try that meets its op's row written by a cancel was blocked, not duplicated.
          if (!origin && op !== 'confirm') {
            const [rows] = (await pool.getConnection().then(async (c) => {
              try {
                const r = await c.query(
                  `SELECT reason FROM ${table} WHERE gid = ? AND branch = ? AND op = ?`,
                  [gid, branch, op],
                );
                c.release();
                return r;
              } catch (e) {
                c.destroy();
                throw e;
              }
            })) as [{ reason: string }[], unknown];
            if (rows[0] && rows[0].reason !== op) return { outcome: 'blocked', value: undefined };
          }
          return { outcome: 'duplicate', value: undefined };
        }
        business = true;
        const value = await fn(conn);
        await conn.query('COMMIT');
        conn.release();
        return { outcome: 'ran', value };
      } catch (error) {
        try {
          await conn.query('ROLLBACK');
          conn.release();
        } catch {
          conn.destroy();
        }
        if (business) throw error;
        throw new TxBackendError(`barrier ${op}`, error, gid);
      }
    },
    async cleanup(olderThanMs, opts = {}) {
      if (typeof olderThanMs !== 'number' || !(olderThanMs > 0)) {
        throw new TxArgumentError('cleanup() needs olderThanMs > 0');
      }
      const batch = opts.batch ?? 1000;
      let total = 0;
      for (;;) {
        const conn = await pool.getConnection();
        try {
          const [r] = (await conn.query(
            `DELETE FROM ${table} WHERE created_at < NOW(3) - INTERVAL ? MICROSECOND LIMIT ?`,
            [Math.floor(olderThanMs * 1000), batch],
          )) as [WriteResultLike, unknown];
          conn.release();
          total += r.affectedRows;
          if (r.affectedRows < batch) return total;
        } catch (error) {
          conn.destroy();
          throw new TxBackendError('barrier cleanup', error);
        }
      }
    },
  };
}
