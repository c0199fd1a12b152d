import { LIVE, NOW } from '../server-time.js';
import { PK } from './lease-kind.js';

/**
 * Owner-checked release of one hold of one lease, in one statement and without the key's lock:
 * it only shortens a live lease, which no acquire decision can get wrong (one that read it live
 * just refused a little early). The last hold sets the expiry to now, so the lease stops
 * counting at once; the next acquire deletes its row. `LAST_INSERT_ID(count)` is the count
 * before: 0 = not held (expired, released, never held; nothing changed), 1 = released,
 * more = decremented. Only this kind's lease is touched: a downgraded owner's read stays.
 *
 * Bind: name, family, owner, kind.
 */
export function sharedReleaseSql(leases: string): string {
  return `UPDATE ${leases} SET \`count\` = LAST_INSERT_ID(\`count\`) - 1,
  \`expires_at\` = IF(\`count\` = 0, ${NOW}, \`expires_at\`)
WHERE ${PK} AND ${LIVE}`;
}
