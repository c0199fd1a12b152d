import type { SqliteConnection } from './sqlite-connection.js';

/** Table names of the shared keys (semaphores and read-write locks), derived from the prefix. */
export interface SharedTables {
  /**
   * One row per shared key someone holds or waits for: its stored semaphore limit (`NULL` for
   * read-write keys) and the token of its last semaphore or write grant, which read grants carry.
   * The row goes when the last lease and queue entry of the key go; tokens still never go back,
   * since every fresh one comes from the file's fencing counter.
   */
  readonly keys: string;
  /**
   * One row per live (or expired, not yet purged) lease: an owner's hold of one kind on a key,
   * with its own expiry. `seq` (the rowid) is the grant order.
   */
  readonly leases: string;
  /** The waiter queue: one row per queued owner and kind, `seq` (the rowid) is arrival order. */
  readonly waiters: string;
}

export function sharedTablesFor(prefix: string): SharedTables {
  return {
    keys: `${prefix}shared_keys`,
    leases: `${prefix}shared_leases`,
    waiters: `${prefix}shared_waiters`,
  };
}

/**
 * Creates the shared-key tables if missing, beside the mutex's: a file made by an earlier
 * version gets them on its first open by this one, and an earlier version never reads them.
 * `seq INTEGER PRIMARY KEY` is the rowid, which SQLite assigns as one more than the largest in
 * the table, so among live rows it is insertion order.
 */
export function createSharedSchema(db: SqliteConnection, tables: SharedTables): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS ${tables.keys} (
      name TEXT NOT NULL,
      family TEXT NOT NULL,
      permit_limit INTEGER,
      fencing_token INTEGER NOT NULL,
      PRIMARY KEY (name, family)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS ${tables.leases} (
      seq INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      family TEXT NOT NULL,
      owner TEXT NOT NULL,
      kind TEXT NOT NULL,
      permits INTEGER NOT NULL,
      count INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      fencing_token INTEGER NOT NULL,
      UNIQUE (name, family, owner, kind)
    );
    CREATE INDEX IF NOT EXISTS ${tables.leases}_expiry ON ${tables.leases} (expires_at);
    CREATE TABLE IF NOT EXISTS ${tables.waiters} (
      seq INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      family TEXT NOT NULL,
      owner TEXT NOT NULL,
      kind TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      UNIQUE (name, family, owner, kind)
    );
    CREATE INDEX IF NOT EXISTS ${tables.waiters}_expiry ON ${tables.waiters} (expires_at);
  `);
}
