import type { AcquireResult } from '@dlock/lock-core/spi';
import type { WriteResult } from './pool-types.js';
import { LIVE, NEXT_TOKEN, NOW_EPOCH_US, NOW_PLUS, REMAINING_US } from './server-time.js';
import { insertIdOf } from './sql-runner.js';

/**
 * `row` mode's acquire: one atomic `INSERT … ON DUPLICATE KEY UPDATE` that inserts a new key,
 * takes over a free or expired row (the next token: see `NEXT_TOKEN`), re-enters for the same
 * owner (count + 1, expiry never shortened) or leaves a live foreign lock alone.
 *
 * The outcome comes back in the OK packet through `LAST_INSERT_ID(expr)`, so one round trip
 * answers everything: `value * 4 + tag` with tag 1 = granted, on a new row or by taking over
 * a free one (value: new token), 2 = re-entered (value: token), 3 = refused (value: holder's
 * remaining ms). The VALUES row sets it too, but on a duplicate key every branch of the update
 * sets it again afterwards. Assignments run left to right and see earlier ones, so `owner` and `expires_at`, which
 * the conditions read, are assigned last, `expires_at` after `owner` on purpose: after a
 * takeover the owner already matches and GREATEST picks the new expiry (a freed row's expiry is
 * in the past).
 *
 * Bind: name, owner, ttlµs, owner, owner, owner, owner, ttlµs.
 */
export function acquireRowSql(table: string): string {
  const free = `(\`owner\` IS NULL OR NOT (${LIVE}))`;
  return `INSERT INTO ${table} (\`name\`, \`owner\`, \`count\`, \`fencing\`, \`expires_at\`, \`holder\`)
VALUES (?, ?, 1, LAST_INSERT_ID(${NOW_EPOCH_US} * 4 + 1) DIV 4, ${NOW_PLUS}, NULL)
ON DUPLICATE KEY UPDATE
  \`fencing\` = IF(${free}, LAST_INSERT_ID(${NEXT_TOKEN} * 4 + 1) DIV 4,
    IF(\`owner\` = ?, \`fencing\` + 0 * LAST_INSERT_ID(\`fencing\` * 4 + 2),
      \`fencing\` + 0 * LAST_INSERT_ID(CEIL(GREATEST(0, ${REMAINING_US}) / 1000) * 4 + 3))),
  \`count\` = IF(${free}, 1, IF(\`owner\` = ?, \`count\` + 1, \`count\`)),
  \`owner\` = IF(${free}, ?, \`owner\`),
  \`expires_at\` = IF(\`owner\` = ?, GREATEST(\`expires_at\`, ${NOW_PLUS}), \`expires_at\`)`;
}

export function acquireRowValues(name: Buffer, owner: Buffer, ttlUs: number): unknown[] {
  return [name, owner, ttlUs, owner, owner, owner, owner, ttlUs];
}

export function decodeAcquireRow(result: WriteResult, ttlMs: number): AcquireResult {
  const encoded = insertIdOf(result);
  const value = encoded >> 2n;
  switch (encoded & 3n) {
    case 1n:
      return { acquired: true, fencingToken: value, reentered: false, ttlMs };
    case 2n:
      // The expiry is at least ttlMs away now (GREATEST); report the bound we know.
      return { acquired: true, fencingToken: value, reentered: true, ttlMs };
    default:
      return { acquired: false, retryAfterMs: Number(value) };
  }
}
