import type { LeaseKind } from '@dlock/lock-core/spi';
import { LIVE, REMAINING_US } from '../server-time.js';
import { KEY, type LeaseKey, PK } from './lease-kind.js';
import type { SharedTables } from './shared-tables.js';

/** How many expired rows of each table one acquire deletes (the next acquires delete the rest). */
export const CLEANUP_BATCH = 32;

/** The largest BIGINT UNSIGNED: the queue number of a request that has no entry (last). */
const LAST = '18446744073709551615';

/**
 * What an acquire needs to decide, in one consistent read taken while it holds the key row's
 * lock (every grant, queue entry and cleanup of the key runs under that lock, so nothing of
 * theirs can be missing): one row per part, told apart by `t`:
 *
 * - `K`: the stored limit.
 * - `O`: the caller's own leases (live or not: `us` says), one per kind.
 * - `L`: the other owners' live leases, summed per kind, with the earliest expiry.
 * - `Q`: the caller's own queue entries, one per kind, with `seq` in `token`.
 * - `W`: the other owners' live queue entries: how many are ahead of the caller's entry for
 *   this kind (all of them when it has none), how many there are, the earliest expiry of those
 *   ahead.
 * - `X`, `Y`: some expired leases and queue entries, to delete.
 *
 * Bind: see `stateValues`.
 */
export function stateSql(tables: SharedTables): string {
  const { keys, leases, waiters } = tables;
  return `SELECT 'K' AS \`t\`, NULL AS \`kind\`, NULL AS \`owner\`, \`limit\` AS \`n1\`, NULL AS \`n2\`,
  NULL AS \`token\`, NULL AS \`us\` FROM ${keys} WHERE ${KEY}
UNION ALL SELECT 'O', \`kind\`, \`owner\`, \`permits\`, \`count\`, CAST(\`token\` AS CHAR), ${REMAINING_US}
  FROM ${leases} WHERE ${KEY} AND \`owner\` = ?
UNION ALL SELECT 'L', \`kind\`, NULL, SUM(\`permits\`), COUNT(*), NULL, MIN(${REMAINING_US})
  FROM ${leases} WHERE ${KEY} AND \`owner\` <> ? AND ${LIVE} GROUP BY \`kind\`
UNION ALL SELECT 'Q', \`kind\`, \`owner\`, NULL, NULL, CAST(\`seq\` AS CHAR), ${REMAINING_US}
  FROM ${waiters} WHERE ${KEY} AND \`owner\` = ?
UNION ALL SELECT 'W', NULL, NULL, SUM(\`w\`.\`seq\` < \`m\`.\`mine\`), COUNT(*), NULL,
  MIN(IF(\`w\`.\`seq\` < \`m\`.\`mine\`, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), \`w\`.\`expires_at\`), NULL))
  FROM ${waiters} AS \`w\`,
    (SELECT COALESCE((SELECT \`seq\` FROM ${waiters} WHERE ${PK} AND ${LIVE}), ${LAST}) AS \`mine\`) AS \`m\`
  WHERE \`w\`.\`name\` = ? AND \`w\`.\`family\` = ? AND \`w\`.\`owner\` <> ? AND \`w\`.\`expires_at\` > UTC_TIMESTAMP(3)
UNION ALL (SELECT 'X', \`kind\`, \`owner\`, NULL, NULL, NULL, NULL
  FROM ${leases} WHERE ${KEY} AND NOT (${LIVE}) LIMIT ${CLEANUP_BATCH})
UNION ALL (SELECT 'Y', \`kind\`, \`owner\`, NULL, NULL, NULL, NULL
  FROM ${waiters} WHERE ${KEY} AND NOT (${LIVE}) LIMIT ${CLEANUP_BATCH})`;
}

export function stateValues(key: LeaseKey): unknown[] {
  const { name, family, owner, kind } = key;
  return [
    ...[name, family],
    ...[name, family, owner],
    ...[name, family, owner],
    ...[name, family, owner],
    ...[name, family, owner, kind, name, family, owner],
    ...[name, family],
    ...[name, family],
  ];
}

export interface StateRow {
  readonly t: string | Buffer;
  readonly kind: string | null;
  readonly owner: Buffer | null;
  readonly n1: number | string | null;
  readonly n2: number | string | null;
  readonly token: string | Buffer | null;
  readonly us: number | string | null;
}

/** The caller's own lease of one kind. */
export interface OwnLease {
  readonly permits: number;
  readonly count: number;
  readonly token: bigint;
  /** Remaining µs; 0 or less: expired. */
  readonly us: number;
}

/** The other owners' live leases of one kind. */
export interface OtherLeases {
  readonly permits: number;
  readonly count: number;
  readonly minUs: number;
}

export interface SharedSnapshot {
  /** The stored limit (`null`: none stored yet, or a read-write key). */
  readonly limit: number | null;
  readonly own: ReadonlyMap<LeaseKind, OwnLease>;
  readonly others: ReadonlyMap<LeaseKind, OtherLeases>;
  /** The caller's own queue entries (live or not: `us` says). */
  readonly ownWaiters: ReadonlyMap<LeaseKind, { readonly seq: bigint; readonly us: number }>;
  /** Live queue entries of other owners, and how many of them are ahead of the caller. */
  readonly waiters: {
    readonly others: number;
    readonly ahead: number;
    readonly aheadMinUs: number;
  };
  readonly expiredLeases: readonly { readonly owner: Buffer; readonly kind: LeaseKind }[];
  readonly expiredWaiters: readonly { readonly owner: Buffer; readonly kind: LeaseKind }[];
}

const num = (value: number | string | null): number => (value === null ? 0 : Number(value));
const big = (value: string | Buffer | null): bigint => BigInt((value ?? '0').toString());

export function decodeState(rows: readonly StateRow[]): SharedSnapshot {
  let limit: number | null = null;
  const own = new Map<LeaseKind, OwnLease>();
  const others = new Map<LeaseKind, OtherLeases>();
  const ownWaiters = new Map<LeaseKind, { seq: bigint; us: number }>();
  let waiters = { others: 0, ahead: 0, aheadMinUs: Number.POSITIVE_INFINITY };
  const expiredLeases: { owner: Buffer; kind: LeaseKind }[] = [];
  const expiredWaiters: { owner: Buffer; kind: LeaseKind }[] = [];
  for (const row of rows) {
    const kind = row.kind as LeaseKind;
    switch (row.t.toString()) {
      case 'K':
        limit = row.n1 === null ? null : Number(row.n1);
        break;
      case 'O':
        own.set(kind, {
          permits: num(row.n1),
          count: num(row.n2),
          token: big(row.token),
          us: num(row.us),
        });
        break;
      case 'L':
        others.set(kind, { permits: num(row.n1), count: num(row.n2), minUs: num(row.us) });
        break;
      case 'Q':
        ownWaiters.set(kind, { seq: big(row.token), us: num(row.us) });
        break;
      case 'W':
        waiters = {
          others: num(row.n2),
          ahead: num(row.n1),
          aheadMinUs: row.us === null ? Number.POSITIVE_INFINITY : Number(row.us),
        };
        break;
      case 'X':
        expiredLeases.push({ owner: row.owner!, kind });
        break;
      case 'Y':
        expiredWaiters.push({ owner: row.owner!, kind });
        break;
    }
  }
  return { limit, own, others, ownWaiters, waiters, expiredLeases, expiredWaiters };
}
