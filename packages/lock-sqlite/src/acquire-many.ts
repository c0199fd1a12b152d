import type { AcquireRequest, AcquireResult } from '@dlock/lock-core/spi';
import type { SqliteConnection } from './sqlite-connection.js';

/**
 * The most keys one `tryAcquireMany` call carries. Any set is one transaction on the file, so
 * this bounds only how long one transaction keeps the file's write lock (each key is one indexed
 * read and one write: a few µs); the core splits larger sets into consecutive calls.
 */
export const MAX_MANY_KEYS = 256;

/**
 * `tryAcquireMany` for the mutex: one `BEGIN IMMEDIATE` transaction over every key, so any set is
 * atomic across every process on the file (no `manyGroup`: the whole file is one group). It reads
 * first: if any key is held by another owner (and not expired), nothing is written and every key
 * is refused, the held ones with their holder's remaining TTL, the free ones without one (nothing
 * to wait for); the free keys are never taken and given back. Otherwise each key is acquired by
 * `tryAcquire`'s own rule (`acquireAt`: a fresh token, or a re-entry), at one `now`.
 */
export function createAcquireMany(
  db: SqliteConnection,
  read: (key: string) => { owner: string; expires_at: number } | undefined,
  acquireAt: (request: AcquireRequest, now: number) => AcquireResult,
  clock: () => number,
): { immediate(requests: readonly AcquireRequest[]): AcquireResult[] } {
  return db.transaction((requests: readonly AcquireRequest[]): AcquireResult[] => {
    const now = clock();
    const refusals = requests.map(({ key, owner }): AcquireResult | undefined => {
      const row = read(key);
      if (!row || row.expires_at <= now || row.owner === owner) return undefined;
      return { acquired: false, retryAfterMs: row.expires_at - now };
    });
    if (refusals.some((r) => r !== undefined)) {
      return refusals.map((r) => r ?? { acquired: false, retryAfterMs: undefined });
    }
    return requests.map((request) => acquireAt(request, now));
  });
}
