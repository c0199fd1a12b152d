import { createHash } from 'node:crypto';
import { quoteTable } from '../table-name.js';

/** The three tables of semaphores and read-write locks, quoted, named after the lock table. */
export interface SharedTables {
  /** One row per key and family: stored limit and fencing counter (kept, never deleted). */
  readonly keys: string;
  /** One row per live (or expired, not yet cleaned) lease: owner, kind, permits, expiry. */
  readonly leases: string;
  /** The waiter queue: one row per waiting owner and kind, ordered by `seq`. */
  readonly waiters: string;
}

export const SHARED_SUFFIXES = {
  keys: '_shared',
  leases: '_leases',
  waiters: '_waiters',
} as const;

/** MySQL's identifier length limit. */
const MAX_IDENTIFIER = 64;

/**
 * `dlock_locks` → `dlock_locks_shared`, `dlock_locks_leases`, `dlock_locks_waiters` (in the same
 * database when the name is `database.table`). A table part too long for its suffix is cut and
 * given 8 hex digits of its SHA-256 instead, so two long names still get different tables.
 * Validated and quoted by `quoteTable`, the one quoting function.
 */
export function sharedTableName(table: string, suffix: string): string {
  quoteTable(table); // the lock table's own name must be valid first (typed error, before any I/O)
  const parts = table.split('.');
  const base = parts.pop()!;
  let name = base + suffix;
  if (name.length > MAX_IDENTIFIER) {
    const hash = createHash('sha256').update(base, 'utf8').digest('hex').slice(0, 8);
    name = `${base.slice(0, MAX_IDENTIFIER - suffix.length - 9)}_${hash}${suffix}`;
  }
  return [...parts, name].join('.');
}

export function sharedTables(table: string): SharedTables {
  return {
    keys: quoteTable(sharedTableName(table, SHARED_SUFFIXES.keys)),
    leases: quoteTable(sharedTableName(table, SHARED_SUFFIXES.leases)),
    waiters: quoteTable(sharedTableName(table, SHARED_SUFFIXES.waiters)),
  };
}
