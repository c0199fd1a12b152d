import type {
  AcquireRequest,
  AcquireResult,
  CampaignRequest,
  ElectionBackend,
  ExtendResult,
  LeaderState,
  OwnerRef,
  ReleaseResult,
  WatchHandle,
} from '../backend.js';
import type { MemoryClock, MemoryStore } from './memory-store.js';
import { nextFencingToken } from './wall-micros.js';

interface LeaderEntry {
  readonly owner: string;
  value: string;
  count: number;
  expiresAt: number;
  readonly term: bigint;
}

/** A queued candidate: a waiter lease, so a dead candidate delays the queue by its TTL at most. */
interface CandidateEntry {
  readonly owner: string;
  expiresAt: number;
}

interface ElectionState {
  leader: LeaderEntry | undefined;
  /** Candidates in arrival order. */
  readonly queue: CandidateEntry[];
}

/**
 * The elections behind the memory backends of one `MemoryStore`: leaders, candidate queues, term
 * counters (which outlive every leader) and watch listeners. Expiry is swept lazily on each access
 * with the store's clock; a sweep that removed anything notifies the name's watchers, since the
 * leader is gone or the queue's head moved.
 */
export class ElectionStore {
  readonly #states = new Map<string, ElectionState>();
  readonly #terms = new Map<string, bigint>();
  readonly #listeners = new Map<string, Set<() => void>>();

  constructor(readonly clock: MemoryClock) {}

  /** The name's live state after sweeping, created empty when nothing is there. */
  state(name: string): ElectionState {
    let state = this.#states.get(name);
    if (!state) {
      state = { leader: undefined, queue: [] };
      this.#states.set(name, state);
      return state;
    }
    const now = this.clock.now();
    let swept = false;
    if (state.leader && state.leader.expiresAt <= now) {
      state.leader = undefined;
      swept = true;
    }
    for (let i = state.queue.length - 1; i >= 0; i--) {
      if (state.queue[i]!.expiresAt <= now) {
        state.queue.splice(i, 1);
        swept = true;
      }
    }
    if (swept) this.notify(name);
    return state;
  }

  /** Forgets an empty state: a name nobody leads or waits for keeps only its term counter. */
  drop(name: string, state: ElectionState): void {
    if (!state.leader && state.queue.length === 0 && this.#states.get(name) === state) {
      this.#states.delete(name);
    }
  }

  /** The next term: above every earlier term of the name, also across a new store. */
  nextTerm(name: string): bigint {
    const term = nextFencingToken(this.#terms.get(name));
    this.#terms.set(name, term);
    return term;
  }

  /** Forgets the name's term counter, as a server that lost it would (for fault tests). */
  loseTermState(name: string): void {
    this.#terms.delete(name);
  }

  notify(name: string): void {
    const listeners = this.#listeners.get(name);
    if (listeners) for (const listener of [...listeners]) listener();
  }

  listen(name: string, listener: () => void): () => void {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(name) === set) this.#listeners.delete(name);
    };
  }

  /** Number of election names with live watchers (for leak checks in tests). */
  get watchedNames(): number {
    return this.#listeners.size;
  }

  /** Candidates queued for `name` (for tests: nothing left behind). */
  queued(name: string): number {
    const state = this.#states.get(name);
    if (!state) return 0;
    const n = this.state(name).queue.length;
    this.drop(name, state);
    return n;
  }
}

const electionStores = new WeakMap<MemoryStore, ElectionStore>();

/** The election state of `store`, shared by every memory backend on it (as `sharedStoreOf`). */
export function electionStoreOf(store: MemoryStore): ElectionStore {
  let elections = electionStores.get(store);
  if (!elections) {
    elections = new ElectionStore(store.clock);
    electionStores.set(store, elections);
  }
  return elections;
}

/**
 * The memory backend's `election` operations: the reference implementation of every rule of
 * `ElectionBackend` (one leader per name, terms from a counter that never goes back, re-campaign
 * proclaims, a strict-FIFO candidate queue with waiter leases, watch events on every change).
 * Each call runs synchronously to its end before it resolves, so it is atomic.
 */
export function createMemoryElection(
  store: ElectionStore,
  open: () => void,
  unsubscribers: Set<() => void>,
): ElectionBackend {
  const leaderOf = (key: string, owner: string): LeaderEntry | undefined => {
    const leader = store.state(key).leader;
    return leader?.owner === owner ? leader : undefined;
  };
  const extendOne = ({ key, owner, ttlMs }: AcquireRequest): ExtendResult => {
    const leader = leaderOf(key, owner);
    if (!leader) return false;
    leader.expiresAt = store.clock.now() + ttlMs;
    return true;
  };

  return {
    capabilities: { watch: true, nativeWait: false, batchExtend: true },

    async campaign({ key, owner, ttlMs, value, queue }: CampaignRequest): Promise<AcquireResult> {
      open();
      const now = store.clock.now();
      const state = store.state(key);
      const position = state.queue.findIndex((entry) => entry.owner === owner);
      const { leader } = state;
      if (leader?.owner === owner) {
        // Re-campaign: same term, one more hold, and the new value is proclaimed.
        leader.count++;
        leader.expiresAt = Math.max(leader.expiresAt, now + ttlMs);
        if (position !== -1) state.queue.splice(position, 1);
        if (leader.value !== value) {
          leader.value = value;
          store.notify(key);
        }
        return {
          acquired: true,
          fencingToken: leader.term,
          reentered: true,
          ttlMs: leader.expiresAt - now,
        };
      }
      const ahead = position === -1 ? state.queue : state.queue.slice(0, position);
      if (!leader && !ahead.some((entry) => entry.owner !== owner)) {
        const term = store.nextTerm(key);
        state.leader = { owner, value, count: 1, expiresAt: now + ttlMs, term };
        if (position !== -1) state.queue.splice(position, 1);
        store.notify(key);
        return { acquired: true, fencingToken: term, reentered: false, ttlMs };
      }
      // The earliest moment anything in the way may go without an event.
      const inWay = [...(leader ? [leader] : []), ...ahead];
      let retryAfterMs = Math.min(...inWay.map((item) => item.expiresAt - now));
      if (queue) {
        if (position === -1) state.queue.push({ owner, expiresAt: now + ttlMs });
        else state.queue[position]!.expiresAt = now + ttlMs;
        // The core re-checks at retryAfterMs at the latest, refreshing the entry in time.
        retryAfterMs = Math.min(retryAfterMs, ttlMs / 3);
      }
      store.drop(key, state);
      return { acquired: false, retryAfterMs: Math.max(retryAfterMs, 0) };
    },

    async extend(request: AcquireRequest): Promise<ExtendResult> {
      open();
      return extendOne(request);
    },

    async extendMany(requests: readonly AcquireRequest[]): Promise<ExtendResult[]> {
      open();
      return requests.map(extendOne);
    },

    async proclaim({ key, owner, value }: OwnerRef & { readonly value: string }) {
      open();
      const leader = leaderOf(key, owner);
      if (!leader) return false;
      leader.value = value;
      store.notify(key);
      return true;
    },

    async resign({ key, owner }: OwnerRef): Promise<ReleaseResult> {
      open();
      const state = store.state(key);
      const leader = state.leader?.owner === owner ? state.leader : undefined;
      if (!leader) {
        store.drop(key, state);
        return 'not-held';
      }
      if (--leader.count > 0) return 'decremented';
      state.leader = undefined;
      store.drop(key, state);
      store.notify(key);
      return 'released';
    },

    async abandon({ key, owner }: OwnerRef): Promise<boolean> {
      open();
      const state = store.state(key);
      const index = state.queue.findIndex((entry) => entry.owner === owner);
      if (index !== -1) state.queue.splice(index, 1);
      store.drop(key, state);
      if (index === -1) return false;
      store.notify(key);
      return true;
    },

    async leader(key: string): Promise<LeaderState | null> {
      open();
      const state = store.state(key);
      const { leader } = state;
      store.drop(key, state);
      if (!leader) return null;
      const { owner, value, term } = leader;
      return { owner, value, term, ttlMs: leader.expiresAt - store.clock.now() };
    },

    async watch(key: string, onChange: () => void): Promise<WatchHandle> {
      open();
      // Deliver asynchronously, as a network backend would, so no waiter runs inside resign().
      const unsubscribe = store.listen(key, () => queueMicrotask(onChange));
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
