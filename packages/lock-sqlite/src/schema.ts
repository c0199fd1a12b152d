import type { SqliteConnection } from './sqlite-connection.js';

/** Table names derived from the prefix; both are created on first use. */
export interface Tables {
  /** One row per held (or expired, not yet replaced) lock. */
  readonly locks: string;
  /**
   * One row holding the last fencing token issued on this file. It is never deleted, so tokens
   * keep increasing after a lock row is released, expired or force-released; a fresh token is
   * also never below the wall clock in µs, so a reset counter restarts above earlier tokens.
   */
  readonly fencing: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/;

export function isValidPrefix(prefix: string): boolean {
  return prefix === '' || IDENTIFIER.test(prefix);
}

export function tablesFor(prefix: string): Tables {
  return { locks: `${prefix}locks`, fencing: `${prefix}fencing` };
}

/**
 * Creates the tables if missing. `IF NOT EXISTS` plus the busy timeout make this safe when several
 * processes open a new file at the same moment.
 */
export function createSchema(db: SqliteConnection, tables: Tables): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS ${tables.locks} (
      key TEXT PRIMARY KEY NOT NULL,
      owner TEXT NOT NULL,
      count INTEGER NOT NULL,
      fencing_token INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS ${tables.fencing} (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      last_token INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO ${tables.fencing} (id, last_token) VALUES (1, 0);
  `);
}
