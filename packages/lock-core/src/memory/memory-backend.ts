import {
  type AcquireRequest,
  type AcquireResult,
  type ListPage,
  type ListRequest,
  type LockBackend,
  type LockState,
  type OwnerRef,
  type ReleaseResult,
  SPECIFICATION_VERSION,
  type WatchHandle,
} from '../backend.js';
import { LockArgumentError, LockClosedError } from '../errors.js';
import { rejectUnknownOptions } from '../option-validators.js';
import { createMemoryElection, electionStoreOf } from './memory-election.js';
import { listMemory } from './memory-list.js';
import { createMemoryShared } from './memory-shared.js';
import { sharedStoreOf } from './memory-shared-store.js';
import { type MemoryClock, MemoryStore } from './memory-store.js';

export interface MemoryBackendOptions {
  /**
   * Share state with other memory backends (like processes sharing a server). Mutually exclusive
   * with `clock` (the store has its own).
   * @default a new private store
   */
  store?: MemoryStore;
  /**
   * Clock deciding expiry, in milliseconds.
   * @default the lease clock of lock-core (monotonic, and counts time the machine was suspended)
   */
  clock?: MemoryClock;
}

/**
 * An in-process backend with the full semantics (expiry, fencing, re-entry, release events), for
 * the mutex, for shared keys (semaphores, read-write locks) and for leader elections. For tests
 * and single-process programs; it coordinates nothing across processes.
 */
export function memoryBackend(options: MemoryBackendOptions = {}): LockBackend {
  rejectUnknownOptions('memoryBackend', options, KNOWN_OPTIONS);
  if (options.store && options.clock)
    throw new LockArgumentError('Pass either store or clock to memoryBackend, not both');
  return createMemoryBackend(options.store ?? new MemoryStore(options.clock));
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set(['store', 'clock']);

/** @internal The one constructor: a backend on `store`, options already checked. */
function createMemoryBackend(store: MemoryStore): LockBackend {
  const unsubscribers = new Set<() => void>();
  let closed = false;
  const open = (): void => {
    if (closed) throw new LockClosedError('The memory backend is closed');
  };

  function acquire({ key, owner, ttlMs }: AcquireRequest): AcquireResult {
    const now = store.clock.now();
    const entry = store.get(key);
    if (!entry) {
      const granted = store.grant(key, owner, ttlMs);
      return { acquired: true, fencingToken: granted.fencingToken, reentered: false, ttlMs };
    }
    if (entry.owner === owner) {
      entry.count++;
      entry.expiresAt = Math.max(entry.expiresAt, now + ttlMs);
      return {
        acquired: true,
        fencingToken: entry.fencingToken,
        reentered: true,
        ttlMs: entry.expiresAt - now,
      };
    }
    return { acquired: false, retryAfterMs: entry.expiresAt - now };
  }

  function release({ key, owner }: OwnerRef): ReleaseResult {
    const entry = store.get(key);
    if (!entry || entry.owner !== owner) return 'not-held';
    if (--entry.count > 0) return 'decremented';
    store.delete(key);
    return 'released';
  }

  return {
    specificationVersion: SPECIFICATION_VERSION,
    name: 'memory',
    capabilities: {
      watch: true,
      nativeWait: false,
      ttlGranularityMs: 1,
      batchExtend: false,
      // Every call takes effect before it returns its promise.
      orderedRequests: true,
      list: true,
      handOver: true,
    },

    shared: createMemoryShared(sharedStoreOf(store), open, unsubscribers),
    election: createMemoryElection(electionStoreOf(store), open, unsubscribers),

    async tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
      open();
      return acquire(request);
    },

    async extend({ key, owner, ttlMs }: AcquireRequest): Promise<boolean> {
      open();
      const entry = store.get(key);
      if (!entry || entry.owner !== owner) return false;
      entry.expiresAt = store.clock.now() + ttlMs;
      return true;
    },

    async tryAcquireMany(requests: readonly AcquireRequest[]): Promise<AcquireResult[]> {
      open();
      // All or nothing: nothing changes unless every key is free or the owner's already.
      const busy = requests.map(({ key, owner }) => {
        const entry = store.get(key);
        return entry !== undefined && entry.owner !== owner ? entry : undefined;
      });
      if (busy.every((entry) => entry === undefined)) return requests.map(acquire);
      const now = store.clock.now();
      return busy.map((entry) =>
        entry ? { acquired: false, retryAfterMs: entry.expiresAt - now } : { acquired: false },
      );
    },

    async release(request: OwnerRef): Promise<ReleaseResult> {
      open();
      return release(request);
    },

    async handOver(from: OwnerRef, to: AcquireRequest, yieldToOthers: boolean) {
      open();
      // This store cannot tell whether anyone else waits: a yield is always a plain release.
      const entry = store.get(from.key);
      if (!yieldToOthers && entry?.owner === from.owner && entry.count === 1) {
        // The entry is replaced, never deleted: no release event, nobody else could take it.
        const granted = store.grant(to.key, to.owner, to.ttlMs);
        const next = {
          acquired: true,
          fencingToken: granted.fencingToken,
          reentered: false,
          ttlMs: to.ttlMs,
        } as const;
        return { released: 'released', next } as const;
      }
      const released = release(from);
      if (yieldToOthers && released === 'released')
        return { released, next: { acquired: false } } as const;
      return { released, next: acquire(to) };
    },

    async inspect(key: string): Promise<LockState | null> {
      open();
      const entry = store.get(key);
      if (!entry) return null;
      const { owner, count, fencingToken } = entry;
      return { key, owner, count, fencingToken, ttlMs: entry.expiresAt - store.clock.now() };
    },

    async forceRelease(key: string): Promise<boolean> {
      open();
      if (!store.get(key)) return false;
      store.delete(key);
      return true;
    },

    async list(request: ListRequest): Promise<ListPage> {
      open();
      return listMemory(store, request);
    },

    async purge(key: string): Promise<boolean> {
      open();
      if (store.get(key)) return false;
      store.loseFencingState(key);
      return true;
    },

    async watch(key: string, onRelease: () => void): Promise<WatchHandle> {
      open();
      // Deliver asynchronously, as a network backend would, so no waiter runs inside release().
      const unsubscribe = store.listen(key, () => queueMicrotask(onRelease));
      unsubscribers.add(unsubscribe);
      return {
        close() {
          unsubscribe();
          unsubscribers.delete(unsubscribe);
        },
      };
    },

    async close(): Promise<void> {
      closed = true;
      for (const unsubscribe of unsubscribers) unsubscribe();
      unsubscribers.clear();
    },
  };
}
