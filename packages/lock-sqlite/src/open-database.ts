import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { openBetterSqlite3 } from './better-sqlite3-connection.js';
import { nodeSqlite, openNodeSqlite } from './node-sqlite-connection.js';
import type { SqliteConnection, SqliteDriverName } from './sqlite-connection.js';

/**
 * The driver a backend opens its file with: the one named (the `driver` option or
 * `DLOCK_SQLITE_DRIVER`), else `node:sqlite` where this Node.js has it (22.13+, 24), and
 * better-sqlite3 (a native addon, an optional peer dependency) only where it does not.
 */
export function chooseDriver(named: SqliteDriverName | undefined): SqliteDriverName {
  if (named !== undefined) return named;
  return nodeSqlite() === null ? 'better-sqlite3' : 'node:sqlite';
}

/**
 * Opens (creating if needed) the lock file in WAL mode: readers (`inspect`) never block the
 * writer, and each lock operation is one short write transaction. WAL needs shared memory, so the
 * file must be on a local disk, not a network share.
 */
export function openDatabase(
  path: string,
  busyTimeoutMs: number,
  synchronous: 'full' | 'normal',
  driver: SqliteDriverName,
): SqliteConnection {
  const inMemory = path === ':memory:';
  const file = inMemory ? path : resolve(path);
  if (!inMemory) mkdirSync(dirname(file), { recursive: true });
  // The busy timeout: contention with other processes waits instead of failing.
  const db =
    driver === 'node:sqlite'
      ? openNodeSqlite(file, busyTimeoutMs)
      : openBetterSqlite3(file, busyTimeoutMs);
  try {
    if (!inMemory) db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
