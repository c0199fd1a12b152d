import { reported } from '@dlock/lock-core/spi';
import { isConnectionGone } from '../driver-errors.js';
import type { MysqlConnectionLike, WriteResult } from '../pool-types.js';
import type { SqlRunner } from '../sql-runner.js';

/** One transaction's statements, on the connection it holds. */
export interface Transaction {
  write(sql: string, values: readonly unknown[]): Promise<WriteResult>;
  rows<R>(sql: string, values: readonly unknown[]): Promise<R[]>;
}

/**
 * InnoDB gave up on this attempt, not on the request: a deadlock victim (1213) or, on MariaDB
 * with `innodb_snapshot_isolation`, a row changed since the transaction's snapshot (1020, a
 * lease renewed by its watchdog while the same owner re-entered it). The whole transaction was
 * rolled back and may simply run again.
 */
export function isRetryable(error: unknown): boolean {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return errno === 1213 || errno === 1020;
}

/**
 * Thrown by a transaction body that found the state changed between its read and its write (a
 * lease it saw live expired a millisecond later): the transaction is rolled back and runs again.
 */
export class StaleRead extends Error {
  constructor() {
    super('the shared key changed between read and write; the transaction runs again');
  }
}

/** How often a transaction runs again after a retryable failure before the error is reported. */
const ATTEMPTS = 5;

/**
 * Runs `body` in one short transaction on a pool connection of its own: START TRANSACTION, the
 * body's statements, COMMIT; ROLLBACK if the body throws (its error, such as `LockLimitError`,
 * is rethrown). A deadlock victim runs again (see `isRetryable`), at most `ATTEMPTS` times.
 * A connection in doubt (timed out, broken, or its ROLLBACK failed) is destroyed, never reused.
 */
export async function inTransaction<T>(
  sql: SqlRunner,
  operation: string,
  key: string,
  body: (tx: Transaction) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(sql, operation, key, body);
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      if (attempt >= ATTEMPTS || !(error instanceof StaleRead || isRetryable(cause))) throw error;
    }
  }
}

async function once<T>(
  sql: SqlRunner,
  operation: string,
  key: string,
  body: (tx: Transaction) => Promise<T>,
): Promise<T> {
  const connection: MysqlConnectionLike = await sql.checkout(operation, key);
  const tx: Transaction = {
    write: (text, values) => sql.on<WriteResult>(connection, operation, text, values, key),
    rows: <R>(text: string, values: readonly unknown[]) =>
      sql.on<R[]>(connection, operation, text, values, key),
  };
  try {
    await tx.write('START TRANSACTION', []);
    const result = await body(tx);
    await tx.write('COMMIT', []);
    connection.release();
    return result;
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause ?? error;
    if (isConnectionGone(cause)) {
      connection.destroy();
    } else {
      try {
        await tx.write('ROLLBACK', []);
        connection.release();
      } catch (rollback) {
        reported(`mysql ${operation}: rollback`)(rollback);
        connection.destroy();
      }
    }
    throw error;
  }
}
