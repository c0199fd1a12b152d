import type { AcquireRequest } from '@dlock/lock-core/spi';
import { keyBytes, ownerBytes } from './keys.js';
import type { LivenessCheck } from './liveness.js';
import { LIVE, micros, NOW_PLUS } from './server-time.js';
import { insertIdOf, type SqlRunner } from './sql-runner.js';

/**
 * Owner-checked renewal: sets the expiry to ttl from now on the server clock, only while the lease
 * is live (an expired row is never revived) and, in the connection-bound modes, only while the
 * holding connection still holds the server lock. `LAST_INSERT_ID(count)` makes the result
 * independent of the pool's CLIENT_FOUND_ROWS flag: non-zero exactly when the row matched.
 *
 * Bind: ttlµs, name, owner, ...liveness values.
 */
export function extendSql(table: string, liveness?: LivenessCheck): string {
  return `UPDATE ${table} SET \`expires_at\` = ${NOW_PLUS}, \`count\` = LAST_INSERT_ID(\`count\`)
WHERE \`name\` = ? AND \`owner\` = ? AND ${LIVE}${liveness ? ` AND ${liveness.sql}` : ''}`;
}

/**
 * Runs a renewal without liveness check (`row` mode's, an election's): `true` when the owner's
 * live row was renewed.
 */
export async function extendRow(
  sql: SqlRunner,
  operation: string,
  statement: string,
  { key, owner, ttlMs }: AcquireRequest,
): Promise<boolean> {
  const values = [micros(ttlMs), keyBytes(key), ownerBytes(owner)];
  return insertIdOf(await sql.write(operation, statement, values, key)) > 0n;
}
