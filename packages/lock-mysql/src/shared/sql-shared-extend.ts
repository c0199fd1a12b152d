import { LIVE, NOW } from '../server-time.js';
import { PK } from './lease-kind.js';

/**
 * Owner-checked renewal of one lease: expiry `ttl` from now on the server clock, only while it
 * is live (an expired lease is never revived: its permits may already be someone else's).
 * `LAST_INSERT_ID(count)` is non-zero exactly when it matched.
 *
 * Bind: ttlµs, name, family, owner, kind.
 */
export function sharedExtendSql(leases: string): string {
  return `UPDATE ${leases} SET \`expires_at\` = ${NOW} + INTERVAL ? MICROSECOND,
  \`count\` = LAST_INSERT_ID(\`count\`)
WHERE ${PK} AND ${LIVE}`;
}

/**
 * The watchdog's batch: renews many live leases in one statement, each by its own TTL, and
 * stamps the renewed rows with `renewal`, a random value of this batch, so that one read after
 * it tells which of them it renewed (a lease that expired is neither renewed nor stamped).
 *
 * Bind: (name, family, owner, kind, ttlµs) per lease, stamp, then (name, family, owner, kind)
 * per lease.
 */
export function extendManySql(leases: string, count: number): string {
  const cases = Array.from({ length: count }, () => `WHEN ${PK} THEN ?`).join(' ');
  const any = Array.from({ length: count }, () => `(${PK})`).join(' OR ');
  return `UPDATE ${leases} SET \`expires_at\` = ${NOW} + INTERVAL (CASE ${cases} END) MICROSECOND,
  \`renewal\` = ?
WHERE ${LIVE} AND (${any})`;
}

/** The leases of the batch that carry its stamp. Bind: stamp, then the keys as above. */
export function renewedSql(leases: string, count: number): string {
  const any = Array.from({ length: count }, () => `(${PK})`).join(' OR ');
  return `SELECT \`name\`, \`family\`, \`owner\`, \`kind\` FROM ${leases} WHERE \`renewal\` = ? AND (${any})`;
}
