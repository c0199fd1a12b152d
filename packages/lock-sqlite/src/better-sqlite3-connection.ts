import { createRequire } from 'node:module';
import type { SqliteConnection, SqliteStatement } from './sqlite-connection.js';

/** The parts of a better-sqlite3 `Database` that lock-sqlite calls (typed structurally). */
export interface BetterSqlite3DatabaseLike {
  readonly open: boolean;
  prepare(sql: string): BetterSqlite3StatementLike;
  exec(sql: string): unknown;
  pragma(source: string): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: better-sqlite3 types its transactions this loosely
  transaction(fn: (...args: any[]) => any): {
    // biome-ignore lint/suspicious/noExplicitAny: as above
    immediate(...args: any[]): any;
    // biome-ignore lint/suspicious/noExplicitAny: as above
    deferred(...args: any[]): any;
  };
  close(): unknown;
}

interface BetterSqlite3StatementLike {
  safeIntegers(on?: boolean): unknown;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
}

type BetterSqlite3Constructor = new (
  file: string,
  options: { timeout: number },
) => BetterSqlite3DatabaseLike;

export function isBetterSqlite3Database(value: unknown): value is BetterSqlite3DatabaseLike {
  const db = value as Partial<BetterSqlite3DatabaseLike> | null;
  return (
    typeof db?.prepare === 'function' &&
    typeof db.pragma === 'function' &&
    typeof db.transaction === 'function'
  );
}

/**
 * Loads better-sqlite3 from where lock-sqlite is installed. It is an optional peer dependency,
 * needed only on a Node.js without `node:sqlite` (20.x), so its absence is explained here.
 */
function loadBetterSqlite3(): BetterSqlite3Constructor {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as BetterSqlite3Constructor;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    throw new Error(
      `this Node.js (${process.version}) has no node:sqlite, and better-sqlite3 is not installed: ` +
        'use Node.js 22.13 or later, or npm install better-sqlite3',
      { cause: error },
    );
  }
}

/** Opens `file` with better-sqlite3; `timeout` is SQLite's busy_timeout. */
export function openBetterSqlite3(file: string, busyTimeoutMs: number): SqliteConnection {
  const BetterSqlite3 = loadBetterSqlite3();
  return wrapBetterSqlite3(new BetterSqlite3(file, { timeout: busyTimeoutMs }));
}

/** better-sqlite3 already has the shape the backend uses: calls pass straight through. */
export function wrapBetterSqlite3(db: BetterSqlite3DatabaseLike): SqliteConnection {
  return {
    driver: 'better-sqlite3',
    prepare: <Params extends unknown[], Row>(sql: string) =>
      db.prepare(sql) as unknown as SqliteStatement<Params, Row>,
    exec: (sql) => {
      db.exec(sql);
    },
    transaction: (fn) => db.transaction(fn),
    close: () => {
      db.close();
    },
  };
}
