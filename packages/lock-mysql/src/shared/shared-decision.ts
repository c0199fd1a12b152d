import type { LeaseAcquireRequest, LeaseKind } from '@dlock/lock-core/spi';
import type { SharedSnapshot } from './sql-shared-state.js';

/** What an acquire does, decided from the snapshot its transaction read under the key's lock. */
export type Decision = { readonly limitUpdate?: number | undefined } & (
  | { readonly type: 'reenter'; readonly token: bigint }
  | { readonly type: 'grant'; readonly token: bigint; readonly removeWaiter: boolean }
  | { readonly type: 'refuse'; readonly retryAfterMs: number }
  | { readonly type: 'limit'; readonly stored: number }
  | { readonly type: 'upgrade' }
);

const live = (entry: { readonly us: number } | undefined): boolean =>
  entry !== undefined && entry.us > 0;

/**
 * The SPI's rules for one request (see `SharedBackend` in lock-core), as a pure function of the
 * server state:
 *
 * 1. Semaphores: while anyone holds or another owner waits, the stored limit must match the
 *    caller's (else `LockLimitError`) unless `changeLimit`; a key nobody holds or waits for
 *    takes the caller's limit.
 * 2. Re-entry of a kind the owner holds: always granted (full key, waiters or not).
 * 3. `write` while holding only `read`: `LockUpgradeError`. `read` while holding `write`:
 *    granted at once (downgrade).
 * 4. Otherwise granted only if it fits and no live queue entry of another owner is ahead of the
 *    caller's own (strict FIFO; without an entry, every live entry is ahead). A refusal reports
 *    when something that blocks it may end, at most a third of the waiter lease when queued.
 *
 * `current` is the key's counter as this transaction bumped it: a new grant's token (above every
 * earlier token, so also at least every earlier write's for a read) and a new entry's place.
 */
export function decide(
  request: LeaseAcquireRequest,
  snapshot: SharedSnapshot,
  current: bigint,
): Decision {
  const { kind } = request;
  let limitUpdate: number | undefined;
  let limit = Number.POSITIVE_INFINITY;
  if (kind === 'semaphore') {
    const occupied =
      live(snapshot.own.get('semaphore')) ||
      snapshot.others.size > 0 ||
      snapshot.waiters.others > 0;
    const stored = snapshot.limit;
    if (occupied && stored !== null && stored !== request.limit && !request.changeLimit) {
      return { type: 'limit', stored };
    }
    if (stored !== request.limit) limitUpdate = request.limit;
    limit = request.limit;
  }
  const own = snapshot.own.get(kind);
  if (live(own)) return { type: 'reenter', token: own!.token, limitUpdate };
  const ownWrite = live(snapshot.own.get('write'));
  if (kind === 'write' && live(snapshot.own.get('read'))) return { type: 'upgrade' };
  const removeWaiter = snapshot.ownWaiters.has(kind);
  if (kind === 'read' && ownWrite) return { type: 'grant', token: current, removeWaiter };

  const blocking = blockers(kind, snapshot);
  const fits =
    kind === 'semaphore'
      ? blocking.permits + request.permits <= limit
      : kind === 'read'
        ? blocking.count === 0
        : blocking.count === 0;
  const ahead = snapshot.waiters.ahead > 0;
  if (fits && !ahead) return { type: 'grant', token: current, removeWaiter, limitUpdate };

  const us = Math.min(
    fits ? Number.POSITIVE_INFINITY : blocking.minUs,
    ahead ? snapshot.waiters.aheadMinUs : Number.POSITIVE_INFINITY,
  );
  let retryAfterMs = Number.isFinite(us) ? Math.max(1, Math.ceil(us / 1000)) : request.ttlMs;
  // The core re-checks after retryAfterMs at the latest; that poll refreshes the waiter lease.
  if (request.queue)
    retryAfterMs = Math.min(retryAfterMs, Math.max(1, Math.floor(request.ttlMs / 3)));
  return { type: 'refuse', retryAfterMs, limitUpdate };
}

/** The other owners' live leases that stand in the way of `kind`. */
function blockers(
  kind: LeaseKind,
  snapshot: SharedSnapshot,
): { permits: number; count: number; minUs: number } {
  const kinds: readonly LeaseKind[] = kind === 'read' ? ['write'] : [...snapshot.others.keys()];
  let permits = 0;
  let count = 0;
  let minUs = Number.POSITIVE_INFINITY;
  for (const k of kinds) {
    const others = snapshot.others.get(k);
    if (!others) continue;
    permits += others.permits;
    count += others.count;
    minUs = Math.min(minUs, others.minUs);
  }
  return { permits, count, minUs };
}
