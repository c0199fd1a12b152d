/** The two SQLite drivers lock-sqlite runs on. */
export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';

/** A prepared statement, as the backend uses it on either driver. */
export interface SqliteStatement<Params extends unknown[], Row> {
  /** Every integer column is read as a `bigint` (the fencing token needs all 64 bits). */
  safeIntegers(on: boolean): this;
  get(...params: Params): Row | undefined;
  all(...params: Params): Row[];
  run(...params: Params): { changes: number };
}

/**
 * The slice of a SQLite connection the backend uses, shaped like better-sqlite3's API so the
 * backend reads the same on both drivers: `better-sqlite3-connection.ts` passes calls through,
 * `node-sqlite-connection.ts` maps them onto `node:sqlite`'s `DatabaseSync`.
 */
export interface SqliteConnection {
  readonly driver: SqliteDriverName;
  prepare<Params extends unknown[] = unknown[], Row = unknown>(
    sql: string,
  ): SqliteStatement<Params, Row>;
  exec(sql: string): void;
  /**
   * `fn` wrapped in a transaction; `immediate()` runs it under `BEGIN IMMEDIATE` (the write lock
   * first), `deferred()` under `BEGIN DEFERRED` (for reads: one WAL snapshot, no write lock).
   */
  transaction<Args extends unknown[], Result>(
    fn: (...args: Args) => Result,
  ): { immediate(...args: Args): Result; deferred(...args: Args): Result };
  close(): void;
}
