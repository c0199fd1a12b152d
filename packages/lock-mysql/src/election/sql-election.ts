import type { LeaderState } from '@dlock/lock-core/spi';
import { LIVE, NOW, REMAINING_US } from '../server-time.js';

/**
 * The leader's live row: every owner-checked statement below matches only it (the renewal is
 * the lock table's own `extendSql`, whose columns the election table shares).
 */
const LEADER = `\`name\` = ? AND \`owner\` = ? AND ${LIVE}`;

/**
 * Owner-checked value change: keeps the term and the expiry. `LAST_INSERT_ID(count)` tells a
 * match from a miss even when the value is unchanged (zero rows "affected"). Bind: value, name,
 * owner.
 */
export function proclaimSql(elections: string): string {
  return `UPDATE ${elections} SET \`value\` = ?, \`count\` = LAST_INSERT_ID(\`count\`) WHERE ${LEADER}`;
}

/**
 * Owner-checked release of one hold of leadership. The row stays with its term (terms never go
 * back); a leader's last hold clears owner and value, so nothing a reader could mistake for a
 * leader is left. `LAST_INSERT_ID(count)` is the count before: 0 = not leading, 1 = resigned,
 * more = decremented. `count` is assigned first, so the later conditions see the new count.
 * Bind: name, owner.
 */
export function resignSql(elections: string): string {
  return `UPDATE ${elections} SET
  \`count\` = LAST_INSERT_ID(\`count\`) - 1,
  \`owner\` = IF(\`count\` = 0, NULL, \`owner\`),
  \`value\` = IF(\`count\` = 0, NULL, \`value\`),
  \`expires_at\` = IF(\`count\` = 0, ${NOW}, \`expires_at\`)
WHERE ${LEADER}`;
}

/** The live leader; the term as text so no pool setting can round it. Bind: name. */
export function leaderSql(elections: string): string {
  return `SELECT \`owner\`, \`value\`, CAST(\`term\` AS CHAR) AS \`term\`, ${REMAINING_US} AS \`us\`
FROM ${elections} WHERE \`name\` = ? AND \`owner\` IS NOT NULL AND ${LIVE}`;
}

export interface LeaderRow {
  readonly owner: Buffer | string;
  readonly value: Buffer | string | null;
  readonly term: string | Buffer;
  readonly us: number | string;
}

export function decodeLeader(rows: readonly LeaderRow[]): LeaderState | null {
  const row = rows[0];
  if (!row) return null;
  return {
    owner: row.owner.toString(),
    value: row.value === null ? '' : row.value.toString(),
    term: BigInt(row.term.toString()),
    ttlMs: Math.max(0, Math.floor(Number(row.us) / 1000)),
  };
}
