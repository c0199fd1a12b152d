import { monotonicNow } from '../clock.js';
import { sharedStoreOf } from './memory-shared-store.js';
import { nextFencingToken } from './wall-micros.js';

/** A clock in milliseconds. Inject one to drive expiry in tests. */
export interface MemoryClock {
  now(): number;
}

interface Entry {
  owner: string;
  count: number;
  expiresAt: number;
  fencingToken: bigint;
}

/**
 * The state behind one or more `memoryBackend`s: several backends on one store behave like
 * several processes on one server. Fencing counters outlive the locks, as on a real server.
 *
 * A fresh token is max(counter + 1, wall-clock microseconds since the epoch), like the server
 * backends', so a new store (a restarted process) or a swap to or from another backend keeps a
 * key's tokens increasing, as long as the wall clock did not step back by more than the time
 * since the key's last grant.
 */
export class MemoryStore {
  readonly #locks = new Map<string, Entry>();
  readonly #counters = new Map<string, bigint>();
  readonly #listeners = new Map<string, Set<() => void>>();

  constructor(readonly clock: MemoryClock = { now: monotonicNow }) {}

  /** The live entry for `key`, dropping it if its time has passed. */
  get(key: string): Entry | undefined {
    const entry = this.#locks.get(key);
    if (entry && entry.expiresAt <= this.clock.now()) {
      this.#locks.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Every key with an entry, live or not yet swept (`get` tells which are live). */
  keys(): IterableIterator<string> {
    return this.#locks.keys();
  }

  grant(key: string, owner: string, ttlMs: number): Entry {
    const fencingToken = nextFencingToken(this.#counters.get(key));
    this.#counters.set(key, fencingToken);
    const entry = { owner, count: 1, expiresAt: this.clock.now() + ttlMs, fencingToken };
    this.#locks.set(key, entry);
    return entry;
  }

  /**
   * Forgets the key's fencing counter, as a server that lost it would (a restart without
   * persistence, an evicted or expired counter). For fault tests: the next grant's token must
   * still exceed every earlier one. The semaphore and read-write keys of the same name lose
   * theirs too, as they would on a restarted server.
   */
  loseFencingState(key: string): void {
    this.#counters.delete(key);
    const shared = sharedStoreOf(this);
    shared.loseFencingState('semaphore', key);
    shared.loseFencingState('read-write', key);
  }

  delete(key: string): void {
    this.#locks.delete(key);
    const listeners = this.#listeners.get(key);
    if (listeners) for (const listener of listeners) listener();
  }

  listen(key: string, listener: () => void): () => void {
    let set = this.#listeners.get(key);
    if (!set) {
      set = new Set();
      this.#listeners.set(key, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(key) === set) this.#listeners.delete(key);
    };
  }

  /** Number of keys with live watchers, shared keys included (for leak checks in tests). */
  get watchedKeys(): number {
    return this.#listeners.size + sharedStoreOf(this).watchedKeys;
  }
}
