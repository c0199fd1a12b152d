/**
 * The parts of mysql2's promise API this package uses, typed structurally so that any compatible
 * pool works (mysql2/promise `createPool()`, or a wrapper with the same methods) and mysql2's own
 * types are not part of the public surface.
 */

/** A connection checked out of a pool (mysql2/promise `PoolConnection`). */
export interface MysqlConnectionLike {
  query(sql: string, values?: unknown[]): Promise<[unknown, unknown]>;
  /** Hands the connection back to the pool. */
  release(): void;
  /** Closes the socket at once and removes the connection from the pool. */
  destroy(): void;
}

/** A mysql2/promise pool: `createPool(...)` from `mysql2/promise`. */
export interface MysqlPoolLike {
  getConnection(): Promise<MysqlConnectionLike>;
}

/** What mysql2 resolves for INSERT/UPDATE/DELETE, reduced to what is read. */
export interface WriteResultLike {
  readonly affectedRows: number;
}
