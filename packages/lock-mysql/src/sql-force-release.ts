import { LIVE, NOW } from './server-time.js';

/**
 * `forceRelease` for `row` mode: frees the key whoever holds it. The row and its fencing counter
 * stay, so later grants still get larger tokens. `LAST_INSERT_ID(count)` is non-zero exactly when
 * a live lock was there. Bind: name.
 */
export function forceReleaseRowSql(table: string): string {
  return `UPDATE ${table} SET \`count\` = LAST_INSERT_ID(\`count\`) * 0, \`owner\` = NULL,
  \`holder\` = NULL, \`expires_at\` = ${NOW}
WHERE \`name\` = ? AND \`owner\` IS NOT NULL AND ${LIVE}`;
}

/**
 * `purge` for `row` mode: deletes a free key's row, fencing counter and all; a held key's row
 * stays. The next grant's token is then the server's time in µs, above every earlier token (see
 * the README's fencing section). Bind: name.
 */
export function purgeRowSql(table: string): string {
  return `DELETE FROM ${table} WHERE \`name\` = ? AND NOT (\`owner\` IS NOT NULL AND ${LIVE})`;
}

/**
 * Connection-bound modes: clears the state row of the hold granted to connection `holder` (the
 * caller then ends that connection, which frees the server lock). Bind: name, holder.
 */
export function clearHolderSql(table: string): string {
  return `UPDATE ${table} SET \`count\` = 0, \`owner\` = NULL, \`holder\` = NULL, \`expires_at\` = ${NOW}
WHERE \`name\` = ? AND \`holder\` = ?`;
}
