import { createRequire } from 'node:module';
import { isBetterSqlite3Database } from '../../src/better-sqlite3-connection.js';
import { nodeSqlite } from '../../src/node-sqlite-connection.js';
import { chooseDriver, openDatabase } from '../../src/open-database.js';
import type { SqliteConnection, SqliteDriverName } from '../../src/sqlite-connection.js';

/** The driver this run tests: DLOCK_SQLITE_DRIVER (set per vitest project), else the default. */
export const driver: SqliteDriverName = chooseDriver(
  (process.env.DLOCK_SQLITE_DRIVER || undefined) as SqliteDriverName | undefined,
);

/** A second connection to `path` through the driver under test, as another process opens it. */
export function openRaw(path: string): SqliteConnection {
  return openDatabase(path, 5_000, 'full', driver);
}

/** The user's own open database object of the driver under test (for the `database` option). */
export function userDatabase(path: string): {
  db: object;
  isOpen(): boolean;
  count(sql: string): number;
  close(): void;
} {
  if (driver === 'node:sqlite') {
    const db = new (nodeSqlite()!.DatabaseSync)(path);
    let open = true;
    return {
      db,
      isOpen: () => open,
      count: (sql) => Number((db.prepare(sql).get() as { n: number }).n),
      close: () => {
        db.close();
        open = false;
      },
    };
  }
  const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3');
  const db = new BetterSqlite3(path);
  if (!isBetterSqlite3Database(db)) throw new Error('not a better-sqlite3 Database');
  return {
    db,
    isOpen: () => db.open,
    count: (sql) => Number((db.prepare(sql).get() as { n: number }).n),
    close: () => db.close(),
  };
}
