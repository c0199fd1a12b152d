import type { ListedState, ListPage, ListRequest } from '@dlock/lock-core';
import type { Tables } from './schema.js';
import type { SqliteConnection } from './sqlite-connection.js';

interface ListRow {
  key: string;
  owner: string;
  count: bigint;
  fencing_token: bigint;
  expires_at: bigint;
}

/**
 * The first string after every string that starts with `prefix`, in SQLite's BINARY (UTF-8
 * byte) order: `prefix` with its last code point incremented. Undefined when there is none.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    // Skip the surrogate range: those code points cannot be stored as UTF-8.
    const next = last === 0xd7ff ? 0xe000 : last + 1;
    if (next <= 0x10ffff) return points.join('') + String.fromCodePoint(next);
  }
  return undefined;
}

/**
 * `list()` for the SQLite backend: a range query on the primary key (`key >= prefix AND key <
 * prefixEnd(prefix)`, all bound as parameters, so `%` or `_` in a prefix are plain text), live
 * rows only, in key order, `limit` rows a page; the cursor is the page's last key. One SELECT is
 * one consistent read of the file (WAL), so every row of a page is read at one instant.
 */
export function createLister(
  db: SqliteConnection,
  tables: Tables,
  clock: () => number,
): (request: ListRequest) => ListPage {
  const select = (bounded: boolean) =>
    db
      .prepare<unknown[], ListRow>(
        `SELECT key, owner, count, fencing_token, expires_at FROM ${tables.locks}
         WHERE key >= ? ${bounded ? 'AND key < ?' : ''} AND key > ? AND expires_at > ?
         ORDER BY key LIMIT ?`,
      )
      .safeIntegers(true);
  const bounded = select(true);
  const open = select(false);
  return ({ prefix, limit, cursor }) => {
    const end = prefixEnd(prefix);
    const now = clock();
    // `key > ''` holds for every key (keys are never empty): no cursor, no effect.
    const after = cursor ?? '';
    const rows =
      end === undefined
        ? open.all(prefix, after, now, limit)
        : bounded.all(prefix, end, after, now, limit);
    const locks: ListedState[] = rows.map((row) => ({
      key: row.key,
      owner: row.owner,
      count: Number(row.count),
      fencingToken: row.fencing_token,
      ttlMs: Number(row.expires_at) - now,
    }));
    return { locks, cursor: rows.length === limit ? rows.at(-1)!.key : undefined };
  };
}
