import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';

/**
 * Opens (creating if needed) the lock file in WAL mode: readers (`inspect`) never block the
 * writer, and each lock operation is one short write transaction. WAL needs shared memory, so the
 * file must be on a local disk, not a network share.
 */
export function openDatabase(
  path: string,
  busyTimeoutMs: number,
  synchronous: 'full' | 'normal',
): Database {
  const inMemory = path === ':memory:';
  const file = inMemory ? path : resolve(path);
  if (!inMemory) mkdirSync(dirname(file), { recursive: true });
  // `timeout` is SQLite's busy_timeout: contention with other processes waits instead of failing.
  const db = new BetterSqlite3(file, { timeout: busyTimeoutMs });
  try {
    if (!inMemory) db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
