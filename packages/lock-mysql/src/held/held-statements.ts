import type { LivenessCheck } from '../liveness.js';
import { LIVE, NEXT_TOKEN, NOW_EPOCH_US, NOW_PLUS, REMAINING_US } from '../server-time.js';

/**
 * Statements on the key's state row for the connection-bound modes. They run in autocommit on
 * pool connections, never inside the holder's transaction: the fencing counter must be committed
 * when the grant is made, or a holder that dies (its transaction rolled back) would hand its
 * token to the next holder a second time.
 */

/**
 * Records a grant the server lock just made: owner, count 1, expiry, holding connection, and
 * the next fencing token (`NEXT_TOKEN`: above the counter and never below the server's time),
 * returned through `LAST_INSERT_ID`. Only the lock holder runs it, so it may overwrite whatever
 * a dead holder left.
 * Bind: name, owner, ttlµs, holder, owner, ttlµs, holder.
 */
export function grantSql(table: string): string {
  return `INSERT INTO ${table} (\`name\`, \`owner\`, \`count\`, \`fencing\`, \`expires_at\`, \`holder\`)
VALUES (?, ?, 1, LAST_INSERT_ID(${NOW_EPOCH_US}), ${NOW_PLUS}, ?)
ON DUPLICATE KEY UPDATE \`fencing\` = LAST_INSERT_ID(${NEXT_TOKEN}), \`owner\` = ?, \`count\` = 1,
  \`expires_at\` = ${NOW_PLUS}, \`holder\` = ?`;
}

/**
 * Re-entry by the same owner while the lock is live and its connection holds the server lock
 * (possibly another process's connection, when the caller shares an explicit owner). Returns the
 * token through `LAST_INSERT_ID`, 0 when not held.
 * Bind: ttlµs, name, owner, ...liveness.
 */
export function reenterSql(table: string, liveness: LivenessCheck): string {
  return `UPDATE ${table} SET \`count\` = \`count\` + 1,
  \`expires_at\` = GREATEST(\`expires_at\`, ${NOW_PLUS}), \`fencing\` = LAST_INSERT_ID(\`fencing\`)
WHERE \`name\` = ? AND \`owner\` = ? AND ${LIVE} AND ${liveness.sql}`;
}

/** The connection holding `owner`'s live lock. Bind: name, owner, ...liveness. */
export function holderSql(table: string, liveness: LivenessCheck): string {
  return `SELECT \`holder\` FROM ${table}
WHERE \`name\` = ? AND \`owner\` = ? AND ${LIVE} AND ${liveness.sql}`;
}

/**
 * The current holder and its remaining lease (negative once expired), for a refusal's retry
 * hint and to find a holder that outlived its lease. Bind: name, ...liveness.
 */
export function remainingSql(table: string, liveness: LivenessCheck): string {
  return `SELECT ${REMAINING_US} AS \`us\`, \`holder\` FROM ${table}
WHERE \`name\` = ? AND \`owner\` IS NOT NULL AND ${liveness.sql}`;
}

/**
 * Remaining lease recorded for one holding connection (negative when expired, no row when the
 * hold ended). The holder's TTL timer reads it before ending its connection, so an extension
 * made from another process (a shared owner) counts. Bind: name, holder.
 */
export function leaseOfSql(table: string): string {
  return `SELECT ${REMAINING_US} AS \`us\` FROM ${table}
WHERE \`name\` = ? AND \`holder\` = ? AND \`owner\` IS NOT NULL`;
}
