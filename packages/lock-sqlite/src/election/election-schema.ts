import type { SqliteConnection } from '../sqlite-connection.js';

/** Table names of the leader elections, derived from the prefix: a namespace of their own. */
export interface ElectionTables {
  /**
   * One row per election name ever campaigned for: the leader's owner, value, hold count and
   * expiry (`NULL`, `NULL`, 0, 0 once it resigned), and the name's last term. The row is never
   * deleted, so the term counter outlives every leader.
   */
  readonly elections: string;
  /** The candidates' queue: one row per queued owner and name, `seq` (the rowid) is arrival order. */
  readonly candidates: string;
}

export function electionTablesFor(prefix: string): ElectionTables {
  return { elections: `${prefix}elections`, candidates: `${prefix}election_candidates` };
}

/**
 * Creates the election tables if missing, beside the locks' (a file made by an earlier version
 * gets them on its first open by this one; an earlier version never reads them).
 */
export function createElectionSchema(db: SqliteConnection, tables: ElectionTables): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS ${tables.elections} (
      name TEXT PRIMARY KEY NOT NULL,
      owner TEXT,
      value TEXT,
      count INTEGER NOT NULL,
      term INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS ${tables.candidates} (
      seq INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      owner TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      UNIQUE (name, owner)
    );
    CREATE INDEX IF NOT EXISTS ${tables.candidates}_expiry ON ${tables.candidates} (expires_at);
  `);
}
