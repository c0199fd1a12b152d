import type { LeaseKind } from '../backend.js';
import type { MemoryClock, MemoryStore } from './memory-store.js';
import { nextFencingToken } from './wall-micros.js';

/** The two namespaces of shared keys (apart from the mutex's, which `MemoryStore` keeps). */
export type SharedFamily = 'semaphore' | 'read-write';

export const familyOf = (kind: LeaseKind): SharedFamily =>
  kind === 'semaphore' ? 'semaphore' : 'read-write';

/** One granted lease: its own server-clock deadline, never derived from another caller's TTL. */
export interface SharedLease {
  readonly kind: LeaseKind;
  readonly owner: string;
  readonly permits: number;
  count: number;
  expiresAt: number;
  readonly fencingToken: bigint;
}

/** One waiter-queue entry: a waiter lease, so a dead waiter delays the queue by its TTL at most. */
export interface QueueEntry {
  readonly kind: LeaseKind;
  readonly owner: string;
  readonly permits: number;
  expiresAt: number;
}

/** A shared key nobody holds or waits for has no state at all (and so no stored limit). */
export interface SharedKeyState {
  /** `semaphore`: the stored limit. */
  limit: number;
  /** Live leases in grant order. */
  readonly leases: SharedLease[];
  /** Waiter queue in arrival order. */
  readonly queue: QueueEntry[];
}

/**
 * The shared-key state behind the memory backends of one `MemoryStore`: leases, waiter queues,
 * stored limits, fencing counters (which outlive the leases) and watch listeners, per family.
 * Expiry is swept lazily on each access with the store's clock; a sweep that removed anything
 * notifies the key's watchers, since the queue's head may fit now.
 */
export class SharedStore {
  readonly #states = new Map<SharedFamily, Map<string, SharedKeyState>>([
    ['semaphore', new Map()],
    ['read-write', new Map()],
  ]);
  readonly #counters = new Map<SharedFamily, Map<string, bigint>>([
    ['semaphore', new Map()],
    ['read-write', new Map()],
  ]);
  readonly #listeners = new Map<SharedFamily, Map<string, Set<() => void>>>([
    ['semaphore', new Map()],
    ['read-write', new Map()],
  ]);

  constructor(readonly clock: MemoryClock) {}

  /** The key's live state after sweeping expired leases and queue entries, if any is left. */
  get(family: SharedFamily, key: string): SharedKeyState | undefined {
    const states = this.#states.get(family)!;
    const state = states.get(key);
    if (!state) return undefined;
    const now = this.clock.now();
    const before = state.leases.length + state.queue.length;
    removeWhere(state.leases, (lease) => lease.expiresAt <= now);
    removeWhere(state.queue, (entry) => entry.expiresAt <= now);
    const swept = state.leases.length + state.queue.length !== before;
    this.dropIfEmpty(family, key, state);
    if (swept) this.notify(family, key);
    return states.get(key);
  }

  /** The key's state, created with `limit` if nobody holds or waits. */
  getOrCreate(family: SharedFamily, key: string, limit: number): SharedKeyState {
    const existing = this.get(family, key);
    if (existing) return existing;
    const state: SharedKeyState = { limit, leases: [], queue: [] };
    this.#states.get(family)!.set(key, state);
    return state;
  }

  /** Forgets the state once nobody holds or waits: the stored limit goes with it. */
  dropIfEmpty(family: SharedFamily, key: string, state: SharedKeyState): void {
    const states = this.#states.get(family)!;
    if (state.leases.length === 0 && state.queue.length === 0 && states.get(key) === state) {
      states.delete(key);
    }
  }

  /** Deletes every lease and queue entry of the key (the fencing counter stays). */
  clear(family: SharedFamily, key: string): void {
    this.#states.get(family)!.delete(key);
  }

  /** A new token for a semaphore or write grant: above every earlier token of the key. */
  nextToken(family: SharedFamily, key: string): bigint {
    const counters = this.#counters.get(family)!;
    const token = nextFencingToken(counters.get(key));
    counters.set(key, token);
    return token;
  }

  /** A read grant's token: the counter as it stands (the last write's), or a fresh one. */
  currentToken(family: SharedFamily, key: string): bigint {
    return this.#counters.get(family)!.get(key) ?? this.nextToken(family, key);
  }

  /** Forgets the key's fencing counter, as a server that lost it would (for fault tests). */
  loseFencingState(family: SharedFamily, key: string): void {
    this.#counters.get(family)!.delete(key);
  }

  notify(family: SharedFamily, key: string): void {
    const listeners = this.#listeners.get(family)!.get(key);
    if (listeners) for (const listener of [...listeners]) listener();
  }

  listen(family: SharedFamily, key: string, listener: () => void): () => void {
    const byKey = this.#listeners.get(family)!;
    let set = byKey.get(key);
    if (!set) {
      set = new Set();
      byKey.set(key, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && byKey.get(key) === set) byKey.delete(key);
    };
  }

  /** Number of shared keys with live watchers (for leak checks in tests). */
  get watchedKeys(): number {
    let total = 0;
    for (const byKey of this.#listeners.values()) total += byKey.size;
    return total;
  }
}

function removeWhere<T>(items: T[], predicate: (item: T) => boolean): void {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i]!)) items.splice(i, 1);
}

const sharedStores = new WeakMap<MemoryStore, SharedStore>();

/**
 * The shared-key state of `store`: every memory backend on one store sees the same leases, as
 * processes on one server do. Kept beside the store rather than in it, so `MemoryStore`'s public
 * surface does not grow.
 */
export function sharedStoreOf(store: MemoryStore): SharedStore {
  let shared = sharedStores.get(store);
  if (!shared) {
    shared = new SharedStore(store.clock);
    sharedStores.set(store, shared);
  }
  return shared;
}
