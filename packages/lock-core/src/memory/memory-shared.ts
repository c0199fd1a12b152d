import type {
  AcquireResult,
  ExtendResult,
  LeaseAcquireRequest,
  LeaseRef,
  LeaseState,
  ReleaseResult,
  SharedBackend,
  SharedState,
  WatchHandle,
} from '../backend.js';
import { LockLimitError, LockUpgradeError } from '../errors.js';
import {
  familyOf,
  type SharedFamily,
  type SharedKeyState,
  type SharedStore,
} from './memory-shared-store.js';

/**
 * The memory backend's `shared` operations: the reference implementation of every rule of
 * `SharedBackend` (per-lease expiry, re-entry, downgrade, upgrade refusal, stored limits, a
 * strict-FIFO waiter queue with waiter leases, one fencing counter per key, watch events).
 * Each call runs synchronously to its end before it resolves, so it is atomic.
 */
export function createMemoryShared(
  store: SharedStore,
  open: () => void,
  unsubscribers: Set<() => void>,
): SharedBackend {
  const findLease = (state: SharedKeyState | undefined, { kind, owner }: LeaseRef) =>
    state?.leases.find((lease) => lease.kind === kind && lease.owner === owner);

  const extendOne = ({ key, owner, kind, ttlMs }: LeaseRef & { ttlMs: number }): ExtendResult => {
    const lease = findLease(store.get(familyOf(kind), key), { key, owner, kind });
    if (!lease) return false;
    lease.expiresAt = store.clock.now() + ttlMs;
    return true;
  };

  return {
    capabilities: {
      maxSemaphoreLimit: Number.POSITIVE_INFINITY,
      readWrite: true,
      watch: true,
      nativeWait: false,
      batchExtend: true,
    },

    async tryAcquire(request: LeaseAcquireRequest): Promise<AcquireResult> {
      open();
      const { key, owner, kind, ttlMs, limit, permits, changeLimit, queue } = request;
      const family = familyOf(kind);
      const now = store.clock.now();
      const state = store.getOrCreate(family, key, limit);
      if (kind === 'semaphore' && state.limit !== limit) {
        if (!changeLimit) {
          store.dropIfEmpty(family, key, state);
          throw new LockLimitError(key, state.limit, limit);
        }
        // A raised limit may let the queue's head in.
        state.limit = limit;
        store.notify(family, key);
      }

      const own = findLease(state, request);
      if (own) {
        // Re-entry: granted even when full or writers wait; same token, same permits.
        own.count++;
        own.expiresAt = Math.max(own.expiresAt, now + ttlMs);
        removeEntry(state, request);
        return {
          acquired: true,
          fencingToken: own.fencingToken,
          reentered: true,
          ttlMs: own.expiresAt - now,
        };
      }

      const others = state.leases.filter((lease) => lease.owner !== owner);
      const mine = state.leases.filter((lease) => lease.owner === owner);
      if (kind === 'write' && mine.some((lease) => lease.kind === 'read')) {
        store.dropIfEmpty(family, key, state);
        throw new LockUpgradeError(key);
      }
      // Downgrade: a write holder's read is granted at once, beside its write lease.
      const downgrade = kind === 'read' && mine.some((lease) => lease.kind === 'write');
      const fits =
        downgrade ||
        (kind === 'semaphore'
          ? usedPermits(state) + permits <= state.limit
          : kind === 'read'
            ? !others.some((lease) => lease.kind === 'write')
            : others.length === 0);
      const position = state.queue.findIndex((e) => e.kind === kind && e.owner === owner);
      const ahead = position === -1 ? state.queue : state.queue.slice(0, position);
      const blocked = !downgrade && ahead.some((entry) => entry.owner !== owner);

      if (fits && !blocked) {
        const fencingToken =
          kind === 'read' ? store.currentToken(family, key) : store.nextToken(family, key);
        state.leases.push({ kind, owner, permits, count: 1, expiresAt: now + ttlMs, fencingToken });
        // The grant removed this owner's entry: the next one may fit beside it.
        if (removeEntry(state, request) && state.queue.length > 0) store.notify(family, key);
        return { acquired: true, fencingToken, reentered: false, ttlMs };
      }

      // The earliest moment anything in the way may go without an event.
      const inWay = [...others, ...ahead.filter((entry) => entry.owner !== owner)];
      let retryAfterMs = Math.min(...inWay.map((item) => item.expiresAt - now));
      if (queue) {
        if (position === -1) state.queue.push({ kind, owner, permits, expiresAt: now + ttlMs });
        else state.queue[position]!.expiresAt = now + ttlMs;
        // The core re-checks at retryAfterMs at the latest, refreshing the entry in time.
        retryAfterMs = Math.min(retryAfterMs, ttlMs / 3);
      }
      store.dropIfEmpty(family, key, state);
      return {
        acquired: false,
        retryAfterMs: Number.isFinite(retryAfterMs) ? Math.max(retryAfterMs, 0) : undefined,
      };
    },

    async extend(request: LeaseRef & { ttlMs: number }): Promise<ExtendResult> {
      open();
      return extendOne(request);
    },

    async extendMany(requests: readonly (LeaseRef & { ttlMs: number })[]) {
      open();
      return requests.map(extendOne);
    },

    async release(request: LeaseRef): Promise<ReleaseResult> {
      open();
      const family = familyOf(request.kind);
      const state = store.get(family, request.key);
      const lease = findLease(state, request);
      if (!state || !lease) return 'not-held';
      if (--lease.count > 0) return 'decremented';
      state.leases.splice(state.leases.indexOf(lease), 1);
      store.dropIfEmpty(family, request.key, state);
      store.notify(family, request.key);
      return 'released';
    },

    async abandon(request: LeaseRef): Promise<boolean> {
      open();
      const family = familyOf(request.kind);
      const state = store.get(family, request.key);
      if (!state || !removeEntry(state, request)) return false;
      store.dropIfEmpty(family, request.key, state);
      store.notify(family, request.key);
      return true;
    },

    async inspect(family: SharedFamily, key: string): Promise<SharedState | null> {
      open();
      const state = store.get(family, key);
      if (!state) return null;
      const now = store.clock.now();
      const holders = state.leases.map(
        ({ kind, owner, permits, count, expiresAt, fencingToken }): LeaseState => ({
          kind,
          owner,
          permits,
          count,
          ttlMs: expiresAt - now,
          fencingToken,
        }),
      );
      return {
        key,
        limit: family === 'semaphore' ? state.limit : Number.POSITIVE_INFINITY,
        holders,
        waiters: state.queue.length,
      };
    },

    async forceRelease(family: SharedFamily, key: string): Promise<boolean> {
      open();
      if (!store.get(family, key)) return false;
      store.clear(family, key);
      store.notify(family, key);
      return true;
    },

    async watch(family: SharedFamily, key: string, onRelease: () => void): Promise<WatchHandle> {
      open();
      // Deliver asynchronously, as a network backend would, so no waiter runs inside release().
      const unsubscribe = store.listen(family, key, () => queueMicrotask(onRelease));
      unsubscribers.add(unsubscribe);
      return {
        close() {
          unsubscribe();
          unsubscribers.delete(unsubscribe);
        },
      };
    },
  };
}

function usedPermits(state: SharedKeyState): number {
  let used = 0;
  for (const lease of state.leases) used += lease.permits;
  return used;
}

/** Removes the owner's queue entry of this kind; whether there was one. */
function removeEntry(state: SharedKeyState, { kind, owner }: LeaseRef): boolean {
  const index = state.queue.findIndex((entry) => entry.kind === kind && entry.owner === owner);
  if (index === -1) return false;
  state.queue.splice(index, 1);
  return true;
}
