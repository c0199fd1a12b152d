import { LockBackendError } from '@dlock/lock-core';
import { isConnectionGone } from './driver-errors.js';
import { createTableHint, isMissingTable } from './missing-table.js';
import type { MysqlConnectionLike, MysqlPoolLike, WriteResult } from './pool-types.js';

export const BACKEND_NAME = 'mysql';

/**
 * Runs statements on pool connections with two bounds mysql2 does not give by itself: a wait for a
 * free connection that ends (an exhausted pool queues forever otherwise) and a per-statement
 * timeout. Either failure is a `LockBackendError` with the driver's error as its cause.
 */
export class SqlRunner {
  constructor(
    readonly pool: MysqlPoolLike,
    readonly acquireTimeoutMs: number,
    readonly queryTimeoutMs: number,
    /** The lock table's name as configured (unquoted), for messages. */
    readonly table = 'dlock_locks',
  ) {}

  /**
   * The `LockBackendError` for a failed statement; when the lock table is missing, its message
   * also says how to create it.
   */
  error(operation: string, cause: unknown, key?: string): LockBackendError {
    const error = new LockBackendError(BACKEND_NAME, operation, cause, key);
    if (isMissingTable(cause)) error.message += `. ${createTableHint(this.table)}`;
    return error;
  }

  /** A connection of our own for a while (the caller releases or destroys it). */
  async checkout(operation: string, key?: string): Promise<MysqlConnectionLike> {
    const pending = this.pool.getConnection();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `no pool connection became free within ${this.acquireTimeoutMs} ms (pool exhausted or server unreachable)`,
            ),
          ),
        this.acquireTimeoutMs,
      );
    });
    try {
      return await Promise.race([pending, timeout]);
    } catch (error) {
      // If the pool hands a connection over after we gave up, give it straight back.
      pending.then(
        (connection) => connection.release(),
        () => {},
      );
      throw new LockBackendError(BACKEND_NAME, operation, error, key);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs one statement that never waits for a lock, on any pool connection. */
  async run<T = unknown>(
    operation: string,
    sql: string,
    values: readonly unknown[],
    key?: string,
  ): Promise<T> {
    const connection = await this.checkout(operation, key);
    return this.on<T>(connection, operation, sql, values, key, true);
  }

  /** Runs one statement on `connection`; with `release`, hands it back (or drops it if broken). */
  async on<T = unknown>(
    connection: MysqlConnectionLike,
    operation: string,
    sql: string,
    values: readonly unknown[],
    key?: string,
    release = false,
  ): Promise<T> {
    try {
      const [result] = await connection.query({
        sql,
        values: [...values],
        timeout: this.queryTimeoutMs,
      });
      if (release) connection.release();
      return result as T;
    } catch (error) {
      if (release) {
        // A timed-out or broken connection is in an unknown state: never reuse it.
        if (isConnectionGone(error)) connection.destroy();
        else connection.release();
      }
      throw this.error(operation, error, key);
    }
  }

  write(operation: string, sql: string, values: readonly unknown[], key?: string) {
    return this.run<WriteResult>(operation, sql, values, key);
  }

  rows<R>(operation: string, sql: string, values: readonly unknown[], key?: string) {
    return this.run<R[]>(operation, sql, values, key);
  }
}

/** `LAST_INSERT_ID(expr)`'s value from a write, as a bigint (mysql2 may give number or string). */
export function insertIdOf(result: WriteResult): bigint {
  return BigInt(result.insertId);
}
