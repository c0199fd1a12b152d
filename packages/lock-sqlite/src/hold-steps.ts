import type { AcquireRequest, ReleaseResult } from '@dlock/lock-core/spi';
import type { SqliteConnection, SqliteStatement } from './sqlite-connection.js';

/**
 * The steps the mutex and the elections share: each keeps one row per key (or name) with its
 * holder's owner, hold count and expiry, renewed and released by the same rules.
 */

/**
 * The clock counts whole milliseconds, so `now` may lag the real instant by up to 1 ms: expiries
 * are stored 1 ms later so that a lease never ends on the server before its full TTL has passed
 * (the holder's own estimate starts when it sent the request, which is earlier still).
 */
export const expiryFor = (now: number, ttlMs: number): number => now + ttlMs + 1;

/**
 * Owner-checked renewals in one transaction, at one `now`. `renew` sets the expiry (first
 * parameter) of the row of key and owner whose expiry is still after `now` (the last one), so an
 * expired hold is never revived.
 */
export function renewTransaction(
  db: SqliteConnection,
  clock: () => number,
  renew: SqliteStatement<[number, string, string, number], unknown>,
): { immediate(requests: readonly AcquireRequest[]): boolean[] } {
  return db.transaction((requests: readonly AcquireRequest[]): boolean[] => {
    const now = clock();
    return requests.map(
      ({ key, owner, ttlMs }) => renew.run(expiryFor(now, ttlMs), key, owner, now).changes === 1,
    );
  });
}

/**
 * One owner-checked release of `hold` (the live holder, or `undefined`): `decrement` when the
 * owner re-entered, `free` on its last hold.
 */
export function releaseHold(
  hold: { readonly owner: string | null; readonly count: number } | undefined,
  owner: string,
  decrement: () => void,
  free: () => void,
): ReleaseResult {
  if (hold?.owner !== owner) return 'not-held';
  if (hold.count > 1) {
    decrement();
    return 'decremented';
  }
  free();
  return 'released';
}
