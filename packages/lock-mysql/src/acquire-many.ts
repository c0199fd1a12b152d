import type { AcquireRequest, AcquireResult } from '@dlock/lock-core/spi';
import { keyBytes, ownerBytes } from './keys.js';
import { LIVE, micros, REMAINING_US } from './server-time.js';
import { inTransaction, isRetryable } from './shared/shared-transaction.js';
import { acquireRowSql, acquireRowValues, decodeAcquireRow } from './sql-acquire-row.js';
import type { SqlRunner } from './sql-runner.js';

/** The most keys one `tryAcquireMany` takes in one transaction (the core splits larger sets). */
export const MAX_MANY_KEYS = 64;

/**
 * Locks the keys' existing rows, in index order (VARBINARY: UTF-8 byte order, the core's
 * canonical order), and reads who holds them. Bind: the names.
 */
function lockRowsSql(table: string, count: number): string {
  const names = Array.from({ length: count }, () => '?').join(', ');
  return `SELECT \`name\`, \`owner\`, ${LIVE} AS \`live\`, ${REMAINING_US} AS \`us\`
FROM ${table} WHERE \`name\` IN (${names}) FOR UPDATE`;
}

interface HolderRow {
  readonly name: Buffer;
  readonly owner: Buffer | null;
  readonly live: number | string;
  readonly us: number | string;
}

/**
 * A free key's answer when another key of the set refused: not granted, and without the
 * `retryAfterMs` that marks the keys that were held (it was free, and left untouched).
 */
const NOT_TAKEN: AcquireResult = { acquired: false };

/** Thrown inside the transaction to roll it back with the refusal as its answer. */
class Refusal {
  constructor(readonly results: AcquireResult[]) {}
}

/**
 * `row` mode's `tryAcquireMany`: one transaction that first locks and reads every key's row
 * (`SELECT … FOR UPDATE`, so nobody can take a key between the check and the grant), and only
 * when every key is free, expired or held by its own requester writes each one with the mutex's
 * own acquire statement (same tokens, re-entry and expiry as `tryAcquire`). A refused attempt
 * writes nothing: it rolls back before its first write, so free keys are never taken and given back.
 *
 * On refusal the refused keys report the holder's remaining TTL as `retryAfterMs`; the free
 * keys report none (they were free, but not taken). A key taken by someone else between the
 * read and the grant (possible only where InnoDB takes no gap lock on a missing row: READ
 * COMMITTED) is refused by its grant statement, and the whole transaction rolls back then.
 * Two such transactions that deadlock on the gaps of missing rows run again (`inTransaction`);
 * one that is still the victim after its last run is refused.
 */
export function acquireMany(
  sql: SqlRunner,
  table: string,
  requests: readonly AcquireRequest[],
): Promise<AcquireResult[]> {
  const acquire = acquireRowSql(table);
  const lock = lockRowsSql(table, requests.length);
  const names = requests.map((request) => keyBytes(request.key));
  const owners = requests.map((request) => ownerBytes(request.owner));
  return inTransaction(sql, 'tryAcquireMany', requests[0]!.key, async (tx) => {
    const rows = await tx.rows<HolderRow>(lock, names);
    const holders = new Map(rows.map((row) => [row.name.toString('hex'), row]));
    const checked = requests.map((_, i): AcquireResult | null => {
      const row = holders.get(names[i]!.toString('hex'));
      if (row?.owner == null || Number(row.live) !== 1 || row.owner.equals(owners[i]!)) return null;
      return { acquired: false, retryAfterMs: Math.max(1, Math.ceil(Number(row.us) / 1000)) };
    });
    if (checked.some((result) => result !== null)) {
      throw new Refusal(checked.map((result) => result ?? NOT_TAKEN));
    }
    const granted: AcquireResult[] = [];
    for (const [i, request] of requests.entries()) {
      const values = acquireRowValues(names[i]!, owners[i]!, micros(request.ttlMs));
      const result = decodeAcquireRow(await tx.write(acquire, values), request.ttlMs);
      if (!result.acquired) {
        throw new Refusal(requests.map((_, j) => (j === i ? result : NOT_TAKEN)));
      }
      granted.push(result);
    }
    return granted;
  }).catch((error: unknown) => {
    if (error instanceof Refusal) return error.results;
    // Still a deadlock victim after every retry: other sets contend for these keys. That is
    // "busy", not "backend down": nothing was written, so refuse (naming no key).
    if (isRetryable((error as { cause?: unknown }).cause)) return requests.map(() => NOT_TAKEN);
    throw error;
  });
}
