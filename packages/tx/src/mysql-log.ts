import { TxBackendError } from './errors.js';
import type { TxLog, TxRecord, TxRecordPatch, TxState } from './log.js';
import { OPEN_STATES } from './log.js';
import type { MysqlPoolLike, WriteResultLike } from './pool-types.js';
import { quoteTable } from './table-name.js';

/**
 * The coordinator log's DDL, for migration tools.
 * - `gid`: the global id (at most 64 bytes, the XA gtrid limit).
 * - `branches`: JSON array of the branches (resource and bqual for XA; name, id and input for
 *   TCC and sagas).
 * - times are epoch milliseconds from the coordinators' clocks (keep them NTP-synced; the
 *   timeouts and grace periods are far larger than normal skew).
 */
export function schemaSql(table = 'dlock_tx'): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (
  \`gid\` VARCHAR(64) CHARACTER SET ascii NOT NULL,
  \`kind\` VARCHAR(8) CHARACTER SET ascii NOT NULL,
  \`state\` VARCHAR(16) CHARACTER SET ascii NOT NULL,
  \`branches\` LONGTEXT NOT NULL,
  \`deadline\` BIGINT NOT NULL,
  \`next_retry_at\` BIGINT NOT NULL,
  \`attempts\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`last_error\` TEXT NULL,
  \`created_at\` BIGINT NOT NULL,
  \`updated_at\` BIGINT NOT NULL,
  PRIMARY KEY (\`gid\`),
  KEY \`due\` (\`state\`, \`next_retry_at\`)
) ENGINE=InnoDB`;
}

export interface MysqlTxLogOptions {
  /**
   * The log table's name (optionally `database.table`).
   * @default 'dlock_tx'
   */
  table?: string;
}

/** Creates the log table if it does not exist. Idempotent; never alters an existing table. */
export async function ensureSchema(
  pool: MysqlPoolLike,
  options: MysqlTxLogOptions = {},
): Promise<void> {
  const sql = schemaSql(options.table);
  await run(pool, 'ensureSchema', sql, []);
}

async function run(
  pool: MysqlPoolLike,
  operation: string,
  sql: string,
  values: unknown[],
  gid?: string,
): Promise<unknown> {
  let conn: Awaited<ReturnType<MysqlPoolLike['getConnection']>> | undefined;
  try {
    conn = await pool.getConnection();
    const [result] = await conn.query(sql, values);
    conn.release();
    return result;
  } catch (error) {
    conn?.destroy();
    throw new TxBackendError(`log ${operation}`, error, gid);
  }
}

interface Row {
  gid: string;
  kind: TxRecord['kind'];
  state: TxState;
  branches: string;
  deadline: number | string;
  next_retry_at: number | string;
  attempts: number;
  last_error: string | null;
  created_at: number | string;
  updated_at: number | string;
}

function fromRow(row: Row): TxRecord {
  return {
    gid: row.gid,
    kind: row.kind,
    state: row.state,
    branches: JSON.parse(row.branches),
    deadline: Number(row.deadline),
    nextRetryAt: Number(row.next_retry_at),
    attempts: row.attempts,
    lastError: row.last_error,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

const COLUMNS: Record<keyof TxRecordPatch, string> = {
  state: 'state',
  branches: 'branches',
  nextRetryAt: 'next_retry_at',
  attempts: 'attempts',
  lastError: 'last_error',
};

/**
 * The coordinator log in a MySQL/MariaDB table (create it with `ensureSchema`). The pool stays
 * yours. Either give it a database of its own (it must stay reachable when a resource manager is
 * not), or the very pool of one XA resource: then `tm.xa()` commits that resource's branch as a
 * local transaction that also inserts the decision (last-resource commit, see xa-mode.ts).
 */
export function mysqlTxLog(
  pool: MysqlPoolLike,
  options: MysqlTxLogOptions = {},
): TxLog & Required<Pick<TxLog, 'pool' | 'createIn'>> {
  const table = quoteTable(options.table ?? 'dlock_tx');
  const insert = (r: TxRecord): [string, unknown[]] => [
    `INSERT IGNORE INTO ${table} (gid, kind, state, branches, deadline, next_retry_at, attempts, last_error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      r.gid,
      r.kind,
      r.state,
      JSON.stringify(r.branches),
      r.deadline,
      r.nextRetryAt,
      r.attempts,
      r.lastError,
      r.createdAt,
      r.updatedAt,
    ],
  ];
  return {
    pool,
    async create(r) {
      const [sql, values] = insert(r);
      const result = (await run(pool, 'create', sql, values, r.gid)) as WriteResultLike;
      return result.affectedRows === 1;
    },
    async createIn(conn, r) {
      // Inside the caller's open transaction: committed or rolled back with it.
      const [sql, values] = insert(r);
      try {
        const [result] = await conn.query(sql, values);
        return (result as WriteResultLike).affectedRows === 1;
      } catch (error) {
        throw new TxBackendError('log create', error, r.gid);
      }
    },
    async get(gid) {
      const rows = (await run(pool, 'get', `SELECT * FROM ${table} WHERE gid = ?`, [gid], gid)) as
        | Row[]
        | undefined;
      return rows?.[0] ? fromRow(rows[0]) : null;
    },
    async update(gid, from, patch) {
      const sets: string[] = ['updated_at = ?'];
      const values: unknown[] = [Date.now()];
      for (const [key, value] of Object.entries(patch) as [keyof TxRecordPatch, unknown][]) {
        if (value === undefined) continue;
        sets.push(`${COLUMNS[key]} = ?`);
        values.push(key === 'branches' ? JSON.stringify(value) : value);
      }
      const result = (await run(
        pool,
        'update',
        `UPDATE ${table} SET ${sets.join(', ')} WHERE gid = ? AND state IN (?)`,
        [...values, gid, [...from]],
        gid,
      )) as WriteResultLike;
      return result.affectedRows === 1;
    },
    async finishMany(gids, from, to) {
      await run(
        pool,
        'finishMany',
        `UPDATE ${table} SET state = ?, updated_at = ? WHERE gid IN (?) AND state = ?`,
        [to, Date.now(), [...gids], from],
      );
    },
    async due(now, limit) {
      const rows = (await run(
        pool,
        'due',
        `SELECT * FROM ${table} WHERE state IN (?) AND next_retry_at <= ? ORDER BY created_at LIMIT ?`,
        [[...OPEN_STATES], now, limit],
      )) as Row[];
      return rows.map(fromRow);
    },
  };
}
