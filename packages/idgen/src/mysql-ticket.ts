import { IdGenClosedError, toBackendError } from './errors.js';
import { quoteTable } from './identifier.js';
import {
  checkPool,
  exactBigInt,
  firstRowValue,
  isRetryable,
  type MysqlConnectionLike,
  type MysqlPoolLike,
} from './mysql-pool.js';
import { checkInteger, checkNonEmptyString } from './validate.js';

const MAX_ATTEMPTS = 20;

export interface MysqlTicketOptions {
  /** A mysql2/promise pool; left open by `close()`. */
  pool: MysqlPoolLike;
  /** Ticket table (created by `ensureTable()`): an AUTO_INCREMENT id and a unique `stub`. */
  table: string;
  /**
   * The one row's stub value. One table can serve several sequences with different stubs only
   * if they may share one id space (they share the AUTO_INCREMENT).
   * @default 'a'
   */
  stub?: string;
  /**
   * Multi-master setup: `auto_increment_increment` for this ticket server, i.e. how many
   * servers share the id space. Set per session on the inserting connection, then restored.
   * @default undefined (the server's setting)
   */
  increment?: number;
  /**
   * Multi-master setup: `auto_increment_offset`, this server's position, 1 … `increment`.
   * With increment 2, server A (offset 1) issues 1, 3, 5 … and server B (offset 2) 2, 4, 6 …
   * @default undefined (the server's setting)
   */
  offset?: number;
}

export interface MysqlTicket {
  /** The next ticket: one `REPLACE INTO` on one pooled connection per call. */
  nextId(): Promise<bigint>;
  nextIdString(): Promise<string>;
  /** `CREATE TABLE IF NOT EXISTS` for the ticket table (DDL: run it once, at deploy time). */
  ensureTable(): Promise<void>;
  /** Refuse new calls. Does not close the pool. */
  close(): Promise<void>;
}

/**
 * Flickr's ticket server: `REPLACE INTO tickets (stub) VALUES ('a')` deletes and re-inserts the
 * single row, bumping the AUTO_INCREMENT, and `LAST_INSERT_ID()` on the same connection reads the
 * new value. Every id costs a round trip and a commit, so the database is the bottleneck; prefer
 * `mysqlSegment` for throughput. Scale-out as in the seed design: N ticket servers with
 * `increment: N` and offsets 1 … N issue disjoint ids (odd/even for two).
 */
export function mysqlTicket(options: MysqlTicketOptions): MysqlTicket {
  checkPool(options?.pool);
  const { pool } = options;
  const table = quoteTable(options.table);
  const stub = checkNonEmptyString('stub', options.stub ?? 'a', 1);
  const multiMaster = options.increment !== undefined || options.offset !== undefined;
  const increment = checkInteger('increment', options.increment ?? 1, 1, 65_535);
  const offset = checkInteger('offset', options.offset ?? 1, 1, increment);
  const name = `mysqlTicket(${options.table})`;
  let closed = false;

  async function issue(conn: MysqlConnectionLike): Promise<bigint> {
    if (multiMaster) {
      // Session variables, not GLOBAL: only this connection's inserts are affected.
      await conn.query('SET SESSION auto_increment_increment = ?, auto_increment_offset = ?', [
        increment,
        offset,
      ]);
    }
    const [result] = await conn.query(`REPLACE INTO ${table} (stub) VALUES (?)`, [stub]);
    // The OK packet carries LAST_INSERT_ID(); it is exact when the pool returns strings or the
    // value is below 2^53. Otherwise ask the server for it as text.
    const insertId = (result as { insertId?: unknown } | null)?.insertId;
    if (
      typeof insertId === 'string' ||
      (typeof insertId === 'number' && Number.isSafeInteger(insertId))
    ) {
      return exactBigInt(insertId, 'insertId');
    }
    const [rows] = await conn.query('SELECT CAST(LAST_INSERT_ID() AS CHAR) AS id');
    return exactBigInt(firstRowValue(rows, 'id'), 'LAST_INSERT_ID()');
  }

  async function nextId(): Promise<bigint> {
    if (closed) throw new IdGenClosedError(name);
    let conn: MysqlConnectionLike;
    try {
      conn = await pool.getConnection();
    } catch (error) {
      throw toBackendError(name, error);
    }
    let clean = true;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await issue(conn);
        } catch (error) {
          // Concurrent REPLACEs on one unique key deadlock in InnoDB now and then. The statement
          // is rolled back whole (no id was issued), so retrying it is safe.
          if (attempt >= MAX_ATTEMPTS || !isRetryable(error)) throw error;
        }
      }
    } catch (error) {
      throw toBackendError(name, error);
    } finally {
      if (multiMaster) {
        try {
          await conn.query(
            'SET SESSION auto_increment_increment = DEFAULT, auto_increment_offset = DEFAULT',
          );
        } catch {
          clean = false;
        }
      }
      // A connection that may still carry our session settings must not go back to the pool.
      if (clean || conn.destroy === undefined) conn.release();
      else conn.destroy();
    }
  }

  return {
    nextId,
    nextIdString: async () => (await nextId()).toString(),
    async ensureTable() {
      const conn = await pool.getConnection();
      try {
        await conn.query(
          `CREATE TABLE IF NOT EXISTS ${table} (
            id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
            stub CHAR(1) NOT NULL DEFAULT '',
            PRIMARY KEY (id),
            UNIQUE KEY stub (stub)
          ) ENGINE=InnoDB`,
        );
      } catch (error) {
        throw toBackendError(`${name}.ensureTable`, error);
      } finally {
        conn.release();
      }
    },
    async close() {
      closed = true;
    },
  };
}
