import { IdGenArgumentError } from './errors.js';

/** The part of a mysql2/promise pool connection the MySQL generators use. */
export interface MysqlConnectionLike {
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
  beginTransaction(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  release(): void;
  /** Used instead of `release()` when a connection's session state could not be restored. */
  destroy?(): void;
}

/** The part of a mysql2/promise `Pool` the MySQL generators use; left open by `close()`. */
export interface MysqlPoolLike {
  getConnection(): Promise<MysqlConnectionLike>;
}

export function checkPool(pool: unknown): asserts pool is MysqlPoolLike {
  if (typeof (pool as MysqlPoolLike | null)?.getConnection !== 'function') {
    throw new IdGenArgumentError(
      'pool must be a mysql2/promise Pool (or anything with getConnection())',
    );
  }
}

/**
 * A BIGINT from a query, exactly. mysql2 returns numbers (lossy above 2^53) unless the pool has
 * `supportBigNumbers` + `bigNumberStrings`; the queries here CAST to CHAR so any pool works.
 */
export function exactBigInt(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'string' && /^-?[0-9]+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new Error(`unexpected ${what}: ${String(value)}`);
}

export function firstRowValue(rows: unknown, column: string): unknown {
  const row = Array.isArray(rows) ? (rows[0] as Record<string, unknown> | undefined) : undefined;
  return row?.[column];
}

/**
 * InnoDB deadlocks and lock-wait timeouts roll the statement or transaction back whole, so
 * running it again is safe.
 */
export function isRetryable(error: unknown): boolean {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return errno === 1213 || errno === 1205; // ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT
}
