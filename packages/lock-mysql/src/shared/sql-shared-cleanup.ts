import { LIVE } from '../server-time.js';

/**
 * Deletes some expired rows of one key found by the acquire's read, each by its primary key (a
 * point delete locks only that row: a range delete would also lock the gaps next to it, where
 * other keys' grants insert, and could deadlock with them). `NOT live` again, so a row renewed
 * in between, which cannot happen to an expired lease, would stay anyway.
 *
 * Bind: name, family, then owner, kind per row.
 */
export function deleteExpiredSql(table: string, rows: number): string {
  const each = Array.from({ length: rows }, () => '(`owner` = ? AND `kind` = ?)').join(' OR ');
  return `DELETE FROM ${table} WHERE \`name\` = ? AND \`family\` = ? AND NOT (${LIVE}) AND (${each})`;
}
