/**
 * The parts of mysql2's promise API the adapter uses, typed structurally so that any compatible
 * pool works (mysql2/promise `createPool()`, or a wrapper with the same methods) and mysql2's own
 * types are not part of this package's public surface.
 */

/** One statement with its placeholders' values; `timeout` is mysql2's per-query timeout in ms. */
export interface StatementOptions {
  readonly sql: string;
  readonly values?: unknown[];
  readonly timeout?: number;
}

/** What mysql2 resolves for INSERT/UPDATE (`ResultSetHeader`), reduced to what we read. */
export interface WriteResult {
  readonly affectedRows: number;
  /** Carries the value of `LAST_INSERT_ID(expr)` when a statement called it, else 0. */
  readonly insertId: number | string | bigint;
}

/** A connection checked out of the pool (mysql2/promise `PoolConnection`). */
export interface MysqlConnectionLike {
  query(options: StatementOptions): Promise<[unknown, unknown]>;
  /** Hands the connection back to the pool. */
  release(): void;
  /** Closes the socket at once and removes the connection from the pool. */
  destroy(): void;
  /** Server connection id from the handshake (`CONNECTION_ID()`), used for `KILL`. */
  readonly threadId: number | null;
  on(event: 'error' | 'end', listener: (error?: unknown) => void): unknown;
  off?(event: 'error' | 'end', listener: (error?: unknown) => void): unknown;
}

/** A mysql2/promise pool: `createPool(...)` from `mysql2/promise`, or `pool.promise()`. */
export interface MysqlPoolLike {
  getConnection(): Promise<MysqlConnectionLike>;
}

/** A pool the adapter created itself (from a URL) and therefore ends in `close()`. */
export interface OwnedMysqlPool extends MysqlPoolLike {
  end(): Promise<void>;
}

/** @deprecated Renamed {@link MysqlPoolLike} (structural driver types end in `Like`). */
export type MysqlPool = MysqlPoolLike;
/** @deprecated Renamed {@link MysqlConnectionLike} (structural driver types end in `Like`). */
export type MysqlPoolConnection = MysqlConnectionLike;
