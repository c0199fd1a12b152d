import type { ListedState, ListPage, ListRequest, LockBackend } from '@dlock/lock-core';
import type { Primitive } from './held/primitive.js';
import { keyBytes } from './keys.js';
import { LIVE, REMAINING_US } from './server-time.js';
import { decodeInspect, type InspectRow } from './sql-inspect.js';
import type { SqlRunner } from './sql-runner.js';

interface ListRow extends InspectRow {
  readonly name: Buffer;
}

/**
 * The first byte string after every name that starts with `prefix`: its last byte plus one. A
 * key's UTF-8 never has a 0xFF byte, so there always is one, and for the empty prefix it is
 * X'FF', which also keeps `for-update`'s lock rows (0xFF + key) out of the range.
 */
export function prefixEnd(prefix: Buffer): Buffer {
  if (prefix.length === 0) return Buffer.from([0xff]);
  const end = Buffer.from(prefix);
  end[end.length - 1]!++;
  return end;
}

/**
 * Candidates of one page: live rows with an owner in the key range, after the cursor, in name
 * order. Bind: start, end, after, limit.
 */
export function listSql(table: string): string {
  return `SELECT \`name\`, \`owner\`, \`count\`, CAST(\`fencing\` AS CHAR) AS \`fencing\`, ${REMAINING_US} AS \`us\`
FROM ${table} WHERE \`name\` >= ? AND \`name\` < ? AND \`name\` > ? AND \`owner\` IS NOT NULL AND ${LIVE}
ORDER BY \`name\` LIMIT ?`;
}

/**
 * The same rows again, each only if the connection recorded as its holder still holds the
 * server lock (the mode's liveness condition, per key), in one statement.
 */
function confirmSql(table: string, primitive: Primitive, keys: readonly string[]) {
  const values: unknown[] = [];
  const terms = keys.map((key) => {
    const live = primitive.liveness(key);
    values.push(keyBytes(key), ...live.values);
    return `(\`name\` = ? AND ${live.sql})`;
  });
  const sql = `SELECT \`name\`, \`owner\`, \`count\`, CAST(\`fencing\` AS CHAR) AS \`fencing\`, ${REMAINING_US} AS \`us\`
FROM ${table} WHERE \`owner\` IS NOT NULL AND ${LIVE} AND (${terms.join(' OR ')})`;
  return { sql, values };
}

/**
 * `list()` on the lock table: a range query on the primary key with the prefix's bytes as
 * parameters (so `%` and `_` are plain text and case matters, as in keys). In `row` mode the
 * live rows are the holds. In `get-lock` and `for-update` a row counts only while its holding
 * connection still holds the server lock, which one more statement checks per key (a row left
 * by a connection that died reads as free, as in `inspect`). The cursor is the page's last
 * name, base64url. Waiters are unknown in every mode (they poll, or wait inside the server).
 */
export function mysqlLister(
  sql: SqlRunner,
  table: string,
  primitive: Primitive | undefined,
): (request: ListRequest) => Promise<ListPage> {
  const statement = listSql(table);
  return async ({ prefix, limit, cursor }) => {
    const start = keyBytes(prefix);
    const after = cursor === undefined ? Buffer.alloc(0) : Buffer.from(cursor, 'base64url');
    const rows = await sql.rows<ListRow>('list', statement, [
      start,
      prefixEnd(start),
      after,
      limit,
    ]);
    const next = rows.length === limit ? rows.at(-1)!.name.toString('base64url') : undefined;
    let live: readonly ListRow[] = rows;
    if (primitive && rows.length > 0) {
      const confirm = confirmSql(
        table,
        primitive,
        rows.map((row) => row.name.toString('utf8')),
      );
      live = await sql.rows<ListRow>('list', confirm.sql, confirm.values);
    }
    const locks = live.map((row): ListedState => decodeInspect(row.name.toString('utf8'), [row])!);
    return { locks, cursor: next };
  };
}

/** `backend` with the `list` capability added. */
export function withList(
  backend: LockBackend,
  list: (request: ListRequest) => Promise<ListPage>,
): LockBackend {
  return { ...backend, capabilities: { ...backend.capabilities, list: true }, list };
}
