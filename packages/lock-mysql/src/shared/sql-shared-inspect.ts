import type { LeaseKind, LeaseState, SharedState } from '@dlock/lock-core/spi';
import { LIVE, REMAINING_US } from '../server-time.js';
import { KEY, type SharedFamily } from './lease-kind.js';
import type { SharedTables } from './shared-tables.js';

/**
 * A key's live leases, its stored limit and its live queue length, in one statement (one
 * consistent read). Tokens as text, so no pool setting can round them.
 *
 * Bind: name, family three times.
 */
export function sharedInspectSql(tables: SharedTables): string {
  return `SELECT 'L' AS \`t\`, \`kind\`, \`owner\`, \`permits\` AS \`n1\`, \`count\` AS \`n2\`,
  CAST(\`token\` AS CHAR) AS \`token\`, ${REMAINING_US} AS \`us\`
  FROM ${tables.leases} WHERE ${KEY} AND ${LIVE}
UNION ALL SELECT 'K', NULL, NULL, \`limit\`, NULL, NULL, NULL FROM ${tables.keys} WHERE ${KEY}
UNION ALL SELECT 'W', NULL, NULL, NULL, COUNT(*), NULL, NULL FROM ${tables.waiters} WHERE ${KEY} AND ${LIVE}`;
}

interface InspectRow {
  readonly t: string | Buffer;
  readonly kind: string | null;
  readonly owner: Buffer | null;
  readonly n1: number | string | null;
  readonly n2: number | string | null;
  readonly token: string | Buffer | null;
  readonly us: number | string | null;
}

export function decodeSharedInspect(
  family: SharedFamily,
  key: string,
  rows: readonly InspectRow[],
): SharedState | null {
  const holders: (LeaseState & { readonly order: bigint })[] = [];
  let limit: number | null = null;
  let waiters = 0;
  for (const row of rows) {
    switch (row.t.toString()) {
      case 'L': {
        const token = BigInt((row.token ?? '0').toString());
        holders.push({
          kind: row.kind as LeaseKind,
          owner: row.owner!.toString('utf8'),
          permits: Number(row.n1),
          count: Number(row.n2),
          ttlMs: Math.max(0, Math.floor(Number(row.us) / 1000)),
          fencingToken: token,
          order: token,
        });
        break;
      }
      case 'K':
        limit = row.n1 === null ? null : Number(row.n1);
        break;
      case 'W':
        waiters = Number(row.n2);
        break;
    }
  }
  if (holders.length === 0 && waiters === 0) return null;
  // Tokens follow grant order (re-entry keeps its grant's token).
  holders.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
  return {
    key,
    limit: family === 'read-write' ? Number.POSITIVE_INFINITY : (limit ?? 0),
    holders: holders.map(({ order: _order, ...lease }) => lease),
    waiters,
  };
}
