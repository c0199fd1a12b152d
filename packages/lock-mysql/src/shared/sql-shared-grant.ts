import { NOW_PLUS } from '../server-time.js';
import { type LeaseKey, pkValues } from './lease-kind.js';

/**
 * A new lease: count 1, its own expiry `ttl` from now on the server clock, the token the key's
 * counter gave this transaction. An expired row of the same owner and kind (not yet cleaned up)
 * is overwritten; a live one cannot be there (that would have been a re-entry, and only grants,
 * which hold the key's lock, create rows).
 *
 * Bind: see `grantLeaseValues`.
 */
export function grantLeaseSql(leases: string): string {
  return `INSERT INTO ${leases}
  (\`name\`, \`family\`, \`owner\`, \`kind\`, \`permits\`, \`count\`, \`token\`, \`expires_at\`, \`renewal\`)
VALUES (?, ?, ?, ?, ?, 1, ?, ${NOW_PLUS}, NULL)
ON DUPLICATE KEY UPDATE \`permits\` = ?, \`count\` = 1, \`token\` = ?, \`expires_at\` = ${NOW_PLUS},
  \`renewal\` = NULL`;
}

export function grantLeaseValues(
  key: LeaseKey,
  permits: number,
  token: bigint,
  ttlUs: number,
): unknown[] {
  // The token as text: an integer column stores a numeric string exactly.
  const text = token.toString();
  return [...pkValues(key), permits, text, ttlUs, permits, text, ttlUs];
}
