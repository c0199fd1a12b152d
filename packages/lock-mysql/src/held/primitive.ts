import type { LivenessCheck } from '../liveness.js';
import type { MysqlPoolConnection } from '../pool-types.js';

/**
 * The server-side lock of a connection-bound mode. It lives on one dedicated connection and dies
 * with it; the key's state row (owner, count, fencing, expiry) is kept beside it by the backend.
 */
export interface Primitive {
  readonly mode: 'get-lock' | 'for-update';
  /**
   * Whether the holding connection runs in autocommit while it holds the lock, so the key's
   * state-row statements can run on it (get-lock). A holder inside a transaction (for-update)
   * must leave them to another pool connection: committed inside its transaction they would be
   * neither visible nor durable.
   */
  readonly autocommit: boolean;
  /** SQL condition: the row's `holder` connection still holds this key's server lock. */
  liveness(key: string): LivenessCheck;
  /**
   * Takes the lock on `connection`, letting the server wait at most about `waitMs` (0: not at
   * all; Infinity: no limit; the caller stops longer waits with `KILL QUERY`). Resolves `false`
   * when the server wait ended without the lock, leaving the connection clean. Rejects with the
   * driver's error otherwise (the caller then destroys the connection).
   */
  take(connection: MysqlPoolConnection, key: string, waitMs: number): Promise<boolean>;
  /** Gives the lock up; afterwards the connection is clean and may go back to the pool. */
  give(connection: MysqlPoolConnection, key: string): Promise<void>;
}

/** Longest server-side wait in whole seconds that both servers accept for their timeouts. */
export const MAX_WAIT_SECONDS = 1_073_741_824;

/** A server wait of about `waitMs`, in whole seconds (at least 1: the caller's deadline cuts it). */
export function waitSeconds(waitMs: number): number {
  if (waitMs === Number.POSITIVE_INFINITY) return MAX_WAIT_SECONDS;
  return Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.ceil(waitMs / 1000)));
}

export async function query<T>(
  connection: MysqlPoolConnection,
  sql: string,
  values: unknown[] = [],
): Promise<T> {
  const [result] = await connection.query({ sql, values });
  return result as T;
}
