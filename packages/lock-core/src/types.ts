import type { LockLostError } from './errors.js';
import type { ListedLock, ListOptions } from './list.js';

/** How a waiting `acquire` learns that the lock may be free. */
export type WaitStrategy =
  /** The best the backend offers: `native`, else `watch`, else `poll`. */
  | 'auto'
  /** The server's own wait queue (`waitAcquire`). */
  | 'native'
  /** Release notifications plus a safety re-check at the holder's remaining TTL. */
  | 'watch'
  /** Retry with capped exponential backoff and full jitter. */
  | 'poll';

export interface PollOptions {
  /**
   * First backoff ceiling in milliseconds; each retry doubles it up to `maxDelayMs`, and the
   * actual delay is drawn uniformly from [0, ceiling] (full jitter).
   * @default 10
   */
  initialDelayMs?: number;
  /**
   * Largest backoff ceiling in milliseconds.
   * @default 500
   */
  maxDelayMs?: number;
}

/** Called once when a held lock is lost. Exceptions it throws are caught and ignored. */
export type OnLost = (error: LockLostError, lock: Lock) => void;

/** Options shared by every way of taking a lock. */
export interface HoldOptions {
  /**
   * Lease length in milliseconds: a holder that stops renewing loses the lock after this.
   * Positive integer, at most 2^31-1. Defaults to the client's `ttlMs`.
   */
  ttlMs?: number;
  /**
   * Owner token to acquire as. Leave it out: each acquisition then gets a fresh secret token of
   * 128 random bits, and only `using` scopes re-enter. Pass the same string from several places
   * (tasks, clients, processes) to share a lock deliberately: they re-enter each other's holds.
   */
  owner?: string;
  /**
   * Keep the lock alive with the watchdog (renewal about every `ttlMs / 3`) until released.
   * Always on inside `using`.
   * @default false
   */
  autoExtend?: boolean;
  /**
   * Upper bound on how long the watchdog keeps this lock, measured from the grant. Past it the
   * watchdog stops renewing and the lock is reported lost with reason `max-hold`.
   * @default Infinity
   */
  maxHoldMs?: number;
  /** Called once if the lock is lost (in addition to the client-wide `onLost`). */
  onLost?: OnLost;
}

export interface AcquireOptions extends HoldOptions {
  /**
   * How long to wait for a busy lock, in milliseconds (`Infinity`: no limit; `0`: one attempt,
   * throwing `LockTimeoutError` when busy). Defaults to the client's `waitTimeoutMs`.
   */
  waitTimeoutMs?: number;
  /** Abort the wait; the promise then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Defaults to the client's `strategy`. */
  strategy?: WaitStrategy;
  /** Backoff for `strategy: 'poll'`. Defaults to the client's `poll`. */
  poll?: PollOptions;
  /**
   * Fail at once with `LockQueueFullError` (before any I/O) if this many calls of this client
   * already wait for this key. Positive integer or `Infinity`. Defaults to the client's
   * `maxWaitersPerKey`.
   */
  maxWaitersPerKey?: number;
}

export type TryAcquireOptions = HoldOptions;

export type UsingOptions = Omit<AcquireOptions, 'autoExtend'>;

export interface LockClientOptions {
  /**
   * Default lease length in milliseconds.
   * @default 30000
   */
  ttlMs?: number;
  /**
   * Default wait for `acquire`, in milliseconds.
   * @default Infinity
   */
  waitTimeoutMs?: number;
  /**
   * Default wait strategy.
   * @default 'auto'
   */
  strategy?: WaitStrategy;
  /** Default backoff for polling waits. */
  poll?: PollOptions;
  /**
   * Default `maxHoldMs` for every lock of this client.
   * @default Infinity
   */
  maxHoldMs?: number;
  /** Called when any lock of this client is lost. */
  onLost?: OnLost;
  /**
   * A public, non-secret name for this client, shown by `inspect()` as the holder.
   * @default `${hostname}:${pid}:${random}`
   */
  clientId?: string;
  /**
   * How many renewals the watchdog sends to the backend at once (one `extendMany` batch, or
   * this many concurrent `extend` calls).
   * @default 256
   */
  watchdogBatchSize?: number;
  /**
   * Most `acquire`/`using` calls that may wait at once on this client, across all keys. A call
   * that would queue behind others for its key fails at once with `LockQueueFullError` (scope
   * `client`), before any I/O; one that finds nobody ahead makes its first attempt and, if
   * refused, fails then instead of queueing. Calls that get the lock at first try, re-entries
   * and `tryAcquire` never count. Positive integer or `Infinity`.
   * @default Infinity
   */
  maxWaiters?: number;
  /**
   * Most `acquire`/`using` calls of this client that may wait for one key at once; one more fails
   * at once with `LockQueueFullError` (scope `key`), before any I/O. A first attempt in flight
   * counts, as the first in line. Per call: `maxWaitersPerKey` in the acquire options. Positive
   * integer or `Infinity`.
   * @default Infinity
   */
  maxWaitersPerKey?: number;
}

/** A held lock. Release it exactly once; later releases are no-ops that resolve `false`. */
export interface Lock extends AsyncDisposable {
  readonly key: string;
  /** Strictly greater than the token of every earlier grant of this key. */
  readonly fencingToken: bigint;
  /** Aborted (reason: `LockLostError`) when the lock is lost; never aborted by a normal release. */
  readonly signal: AbortSignal;
  /**
   * When the lease ends unless renewed: milliseconds since the Unix epoch, estimated on this
   * client conservatively (from the moment the request was sent, so never later than the server's).
   */
  readonly expiresAt: number;
  /** Whether this handle still holds the lock as far as this client knows. */
  readonly held: boolean;
  /**
   * Renew the lease for `ttlMs` (default: the lock's TTL) from now. Throws `LockNotHeldError` if
   * the lock is no longer held; never re-acquires an expired lock.
   */
  extend(ttlMs?: number): Promise<void>;
  /**
   * Give up this hold. `true`: this call released it. `false`: it was already gone (released
   * before, expired, or lost). Throws only when the backend fails.
   */
  release(): Promise<boolean>;
}

/** What `inspect()` reports about a held key. */
export interface LockInfo {
  readonly key: string;
  /** Public id of the holding client (its `clientId`), or the explicit owner string. */
  readonly holder: string;
  /** Hold count (greater than 1 when re-entered). */
  readonly count: number;
  /** Estimated expiry, milliseconds since the Unix epoch. */
  readonly expiresAt: number;
  readonly fencingToken?: bigint | undefined;
}

export interface LockClient extends AsyncDisposable {
  /** Wait for the lock (per the strategy) and take it. */
  acquire(key: string, options?: AcquireOptions): Promise<Lock>;
  /** One attempt, never waits: the lock, or `null` when it is busy. */
  tryAcquire(key: string, options?: TryAcquireOptions): Promise<Lock | null>;
  /**
   * Acquire, run `fn` with the watchdog renewing the lock, and always release. `signal` aborts if
   * the lock is lost. Nested acquisitions of the same key inside `fn` re-enter.
   */
  using<T>(
    key: string,
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options?: UsingOptions,
  ): Promise<T>;
  /** Who holds `key`, or `null` when it is free. */
  inspect(key: string): Promise<LockInfo | null>;
  /**
   * Operator escape hatch: delete the lock on `key` whoever holds it (the holder learns at its
   * next renewal; fencing tokens keep increasing). Resolves whether a lock was there. Throws
   * `LockUnsupportedError` when the backend cannot do it. Never use it to "fix" contention.
   */
  forceRelease(key: string): Promise<boolean>;
  /**
   * The keys held right now under `prefix` (`''`: all), with holder (public id only), hold
   * count, expiry, fencing token and, where the server knows, the number of waiters. Pages
   * through the backend lazily (`for await`), each key at most once, in no particular order; a
   * lock taken or released while the listing runs may or may not appear. Bad arguments and a
   * backend without listing throw `LockArgumentError` / `LockUnsupportedError` at once, a closed client `LockClosedError`,
   * before any I/O; a backend failure rejects the iteration with `LockBackendError`.
   */
  list(prefix?: string, options?: ListOptions): AsyncIterableIterator<ListedLock>;

  /**
   * Delete what a free `key` left on the server (its fencing counter, waiter flag or state row),
   * for keys you will not use again (a demo's, a finished job's). Resolves `false`, deleting
   * nothing, while the key is held. Tokens of later grants still exceed every earlier one (they
   * are floored at the server's time). Throws `LockUnsupportedError` when the backend cannot do it
   * (etcd leaves nothing behind to purge).
   */
  purge(key: string): Promise<boolean>;
  /**
   * Stop the watchdog, end pending waits with `LockClosedError`, release held locks (best
   * effort; their signals abort with reason `client-closed`) and close the backend. Idempotent.
   */
  close(): Promise<void>;
}
