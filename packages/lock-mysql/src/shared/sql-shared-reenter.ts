import { LIVE, NOW_PLUS } from '../server-time.js';
import { PK } from './lease-kind.js';

/**
 * Re-entry of a live lease: count + 1, expiry at least `ttl` from now, never shortened; token
 * and permits stay. `LAST_INSERT_ID(count)` is non-zero exactly when the lease was still live
 * (it may have run out since the transaction's read; the caller then runs it again).
 *
 * Bind: ttlµs, name, family, owner, kind.
 */
export function reenterSql(leases: string): string {
  return `UPDATE ${leases} SET \`count\` = LAST_INSERT_ID(\`count\`) + 1,
  \`expires_at\` = GREATEST(\`expires_at\`, ${NOW_PLUS})
WHERE ${PK} AND ${LIVE}`;
}
