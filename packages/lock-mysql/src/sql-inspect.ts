import type { LockState } from '@dlock/lock-core/spi';
import type { LivenessCheck } from './liveness.js';
import { LIVE, REMAINING_US } from './server-time.js';

/**
 * The live holder of a key. The fencing token is read as text so that no pool setting
 * (supportBigNumbers, bigNumberStrings) can round it.
 *
 * Bind: name, ...liveness values.
 */
export function inspectSql(table: string, liveness?: LivenessCheck): string {
  return `SELECT \`owner\`, \`count\`, CAST(\`fencing\` AS CHAR) AS \`fencing\`, ${REMAINING_US} AS \`us\`
FROM ${table} WHERE \`name\` = ? AND \`owner\` IS NOT NULL AND ${LIVE}${liveness ? ` AND ${liveness.sql}` : ''}`;
}

export interface InspectRow {
  readonly owner: Buffer | string;
  readonly count: number | string;
  readonly fencing: string | Buffer;
  readonly us: number | string;
}

export function decodeInspect(key: string, rows: readonly InspectRow[]): LockState | null {
  const row = rows[0];
  if (!row) return null;
  return {
    key,
    owner: row.owner.toString(),
    count: Number(row.count),
    ttlMs: Math.max(0, Math.floor(Number(row.us) / 1000)),
    fencingToken: BigInt(row.fencing.toString()),
  };
}
