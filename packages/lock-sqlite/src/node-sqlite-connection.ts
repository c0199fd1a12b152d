import type { SqliteConnection, SqliteStatement } from './sqlite-connection.js';

/** The parts of `node:sqlite`'s `DatabaseSync` that lock-sqlite calls (typed structurally). */
export interface DatabaseSyncLike {
  prepare(sql: string): StatementSyncLike;
  exec(sql: string): void;
  close(): void;
  /** Node.js 22.16+ and 24: whether a transaction is open. */
  readonly isTransaction?: boolean;
}

interface StatementSyncLike {
  setReadBigInts(on: boolean): void;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number | bigint };
}

interface NodeSqliteModule {
  DatabaseSync: new (file: string) => DatabaseSyncLike;
}

const WARNING = /^SQLite is an experimental feature/;

let loaded: NodeSqliteModule | null | undefined;

/**
 * `node:sqlite`, or null on a Node.js without it (20.x; 22 before 22.13 without a flag).
 * `process.getBuiltinModule` loads it synchronously, so `sqliteBackend()` stays synchronous.
 * Node.js 22 prints "ExperimentalWarning: SQLite is an experimental feature" when the module is
 * first loaded; a library that merely picked the built-in driver for the user should not print
 * that on every CLI run, so exactly that warning is dropped while the module loads, and every
 * other warning passes through.
 */
export function nodeSqlite(): NodeSqliteModule | null {
  if (loaded !== undefined) return loaded;
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const emit = process.emitWarning;
  process.emitWarning = function emitWarning(this: unknown, warning: string | Error, ...rest) {
    const message = typeof warning === 'string' ? warning : warning.message;
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string })?.type;
    if (type === 'ExperimentalWarning' && WARNING.test(message)) return;
    return (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    loaded = (getBuiltin?.('node:sqlite') as NodeSqliteModule | undefined) ?? null;
  } finally {
    process.emitWarning = emit;
  }
  return loaded;
}

export function isDatabaseSync(value: unknown): value is DatabaseSyncLike {
  const module = nodeSqlite();
  return module !== null && value instanceof module.DatabaseSync;
}

/** Opens `file` with `node:sqlite`; the busy timeout is set before anything else touches it. */
export function openNodeSqlite(file: string, busyTimeoutMs: number): SqliteConnection {
  const module = nodeSqlite();
  if (module === null) {
    throw new Error(`this Node.js (${process.version}) has no node:sqlite (22.13 or later has it)`);
  }
  const db = new module.DatabaseSync(file);
  try {
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
  } catch (error) {
    db.close();
    throw error;
  }
  return wrapNodeSqlite(db);
}

/** Maps better-sqlite3's shape (see SqliteConnection) onto a `DatabaseSync`. */
export function wrapNodeSqlite(db: DatabaseSyncLike): SqliteConnection {
  return {
    driver: 'node:sqlite',
    prepare<Params extends unknown[], Row>(sql: string): SqliteStatement<Params, Row> {
      const statement = db.prepare(sql);
      return {
        safeIntegers(on) {
          statement.setReadBigInts(on);
          return this;
        },
        get: (...params) => statement.get(...params) as Row | undefined,
        all: (...params) => statement.all(...params) as Row[],
        run: (...params) => ({ changes: Number(statement.run(...params).changes) }),
      };
    },
    exec: (sql) => db.exec(sql),
    transaction: (fn) => {
      const inTransaction = (begin: string, args: Parameters<typeof fn>) => {
        db.exec(begin);
        let result: ReturnType<typeof fn>;
        try {
          result = fn(...args);
          db.exec('COMMIT');
        } catch (error) {
          // SQLite rolls back by itself after some errors (a full disk, an I/O error); roll back
          // what is still open. Before Node.js 22.16 `isTransaction` is unknown: try, and keep
          // the original error either way.
          if (db.isTransaction !== false) {
            try {
              db.exec('ROLLBACK');
            } catch (rollbackError) {
              throw new AggregateError([error, rollbackError], (error as Error).message);
            }
          }
          throw error;
        }
        return result;
      };
      return {
        immediate: (...args) => inTransaction('BEGIN IMMEDIATE', args),
        deferred: (...args) => inTransaction('BEGIN DEFERRED', args),
      };
    },
    close: () => db.close(),
  };
}
