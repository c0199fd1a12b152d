import type { AcquireResult } from '@dlock/lock-core/spi';
import type { WriteResult } from '../pool-types.js';
import { LIVE, NOW_EPOCH_US, NOW_PLUS, REMAINING_US } from '../server-time.js';
import { decodeAcquireRow } from '../sql-acquire-row.js';

/**
 * A campaign: one atomic `INSERT … ON DUPLICATE KEY UPDATE` on the election's row, built as the
 * `row` mode's acquire (see `acquireRowSql`): it inserts a new name, takes over a row nobody
 * leads (resigned or expired: the next term, above the stored one and floored at the server's
 * time in µs, so a lost row or reset counter never repeats a term), re-enters for the leader
 * itself (count + 1, expiry never shortened, the new value proclaimed) or leaves a live leader
 * alone. The value is written in the same statement as the grant, so no reader ever sees a
 * leader without its value.
 *
 * The outcome comes back through `LAST_INSERT_ID(value * 4 + tag)`, as there: tag 1 = granted
 * (value: the term), 2 = re-entered (value: the term), 3 = refused (value: the leader's
 * remaining ms). Assignments run left to right and see earlier ones: `value` and `count` read
 * the old `owner`, which is assigned after them, and `expires_at` last (see `acquireRowSql`).
 *
 * Bind: see `campaignValues`.
 */
export function campaignSql(elections: string): string {
  const free = `(\`owner\` IS NULL OR NOT (${LIVE}))`;
  return `INSERT INTO ${elections} (\`name\`, \`owner\`, \`value\`, \`count\`, \`term\`, \`expires_at\`)
VALUES (?, ?, ?, 1, LAST_INSERT_ID(${NOW_EPOCH_US} * 4 + 1) DIV 4, ${NOW_PLUS})
ON DUPLICATE KEY UPDATE
  \`term\` = IF(${free}, LAST_INSERT_ID(GREATEST(\`term\` + 1, ${NOW_EPOCH_US}) * 4 + 1) DIV 4,
    IF(\`owner\` = ?, \`term\` + 0 * LAST_INSERT_ID(\`term\` * 4 + 2),
      \`term\` + 0 * LAST_INSERT_ID(CEIL(GREATEST(0, ${REMAINING_US}) / 1000) * 4 + 3))),
  \`count\` = IF(${free}, 1, IF(\`owner\` = ?, \`count\` + 1, \`count\`)),
  \`value\` = IF(${free} OR \`owner\` = ?, ?, \`value\`),
  \`owner\` = IF(${free}, ?, \`owner\`),
  \`expires_at\` = IF(\`owner\` = ?, GREATEST(\`expires_at\`, ${NOW_PLUS}), \`expires_at\`)`;
}

export function campaignValues(
  name: Buffer,
  owner: Buffer,
  value: Buffer,
  ttlUs: number,
): unknown[] {
  return [name, owner, value, ttlUs, owner, owner, owner, value, owner, owner, ttlUs];
}

/** The same encoding as the mutex's acquire: the token is the term. */
export function decodeCampaign(result: WriteResult, ttlMs: number): AcquireResult {
  return decodeAcquireRow(result, ttlMs);
}
