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
  /**
   * Cohort hand-off, on backends that declare `handOver` (lock-redis): when a lock is released
   * while another call of this client waits for the key, the backend passes it straight to that
   * call in one atomic step (a fresh grant with a new, larger fencing token) instead of a release
   * and a new acquire. At most this many hand-offs follow one another while a waiter of another
   * process is known to wait; then the release is a plain one, announced to every waiter, and
   * this client's next waiter asks only once it hears it, like the others. So a waiter elsewhere
   * waits for at most `handOverLimit` local critical sections (and at most `handOverWindowMs`
   * plus the section in progress) before it gets an even chance. `0` turns hand-offs off.
   * Non-negative integer.
   * @default 16
   */
  handOverLimit?: number;
  /**
   * The time bound of a run of hand-offs (see `handOverLimit`), in milliseconds from the first
   * hand-off of the run.
   * @default 100
   */
  handOverWindowMs?: number;
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

// ---- Semaphores and read-write locks ----

/** Options of `locks.semaphore(key, options)`. */
export interface SemaphoreOptions {
  /**
   * How many permits the semaphore has: at most this many permits are held at once, across
   * every process. Positive integer. Every process using the key must pass the same limit: the
   * limit is stored with the key while anyone holds or waits, and a caller with another limit
   * gets `LockLimitError` (unless `changeLimit`).
   */
  limit: number;
  /**
   * Store this semaphore's `limit` on the server with its next request (granted or not) even if
   * another limit is stored there: the way to change a semaphore's size on purpose. Holders beyond a lowered
   * limit keep their permits; new grants wait until the permits held fit the new limit.
   * @default false
   */
  changeLimit?: boolean;
}

/** The `permits` option of a semaphore call. */
export interface PermitCount {
  /**
   * How many permits to take at once, atomically: all of them or none (never part of them while
   * waiting for the rest). Positive integer, at most the semaphore's limit. Re-entering a permit
   * you hold keeps the permits of the first grant.
   * @default 1
   */
  permits?: number;
}

export type SemaphoreAcquireOptions = AcquireOptions & PermitCount;
export type SemaphoreTryAcquireOptions = TryAcquireOptions & PermitCount;
export type SemaphoreUsingOptions = UsingOptions & PermitCount;

/** A held semaphore lease: a {@link Lock} (same key, fencing, signal, extend, release) plus its permits. */
export interface Permit extends Lock {
  /** How many of the semaphore's permits this lease holds. */
  readonly permits: number;
}

/** One lease of a semaphore or read-write lock, as `inspect()` reports it. */
export interface LeaseHolderInfo {
  /** Public id of the holding client (its `clientId`), or the explicit owner string. */
  readonly holder: string;
  /** Permits the lease holds (1 for read and write holds). */
  readonly permits: number;
  /** Hold count (greater than 1 when re-entered). */
  readonly count: number;
  /** Estimated expiry, milliseconds since the Unix epoch. */
  readonly expiresAt: number;
  readonly fencingToken?: bigint | undefined;
}

/** What `semaphore.inspect()` reports. */
export interface SemaphoreInfo {
  readonly key: string;
  /** The limit stored on the server, or this semaphore's own when nobody holds or waits. */
  readonly limit: number;
  /** Permits free right now (`limit` minus the permits held; never below 0). */
  readonly available: number;
  readonly holders: readonly LeaseHolderInfo[];
  /** Waiters queued on the server, where the backend can count them. */
  readonly waiters?: number | undefined;
}

/** A counting semaphore: at most `limit` permits held at once across every process. */
export interface Semaphore {
  readonly key: string;
  readonly limit: number;
  /** Wait for `permits` (default 1) and take them; as `LockClient.acquire`. */
  acquire(options?: SemaphoreAcquireOptions): Promise<Permit>;
  /** One attempt, never waits: the permit, or `null` when not enough are free. */
  tryAcquire(options?: SemaphoreTryAcquireOptions): Promise<Permit | null>;
  /** Acquire, run `fn` with the watchdog renewing the permit, always release; as `LockClient.using`. */
  using<T>(
    fn: (signal: AbortSignal, permit: Permit) => Promise<T> | T,
    options?: SemaphoreUsingOptions,
  ): Promise<T>;
  /** The stored limit, the free permits and every live holder. */
  inspect(): Promise<SemaphoreInfo>;
}

/** One side of a read-write lock (`.read` or `.write`): the lock API without the key argument. */
export interface LockMode {
  acquire(options?: AcquireOptions): Promise<Lock>;
  tryAcquire(options?: TryAcquireOptions): Promise<Lock | null>;
  using<T>(
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options?: UsingOptions,
  ): Promise<T>;
}

/** What `readWriteLock.inspect()` reports. */
export interface ReadWriteLockInfo {
  readonly key: string;
  readonly writer: LeaseHolderInfo | null;
  readonly readers: readonly LeaseHolderInfo[];
  /** Waiters queued on the server, where the backend can count them. */
  readonly waiters?: number | undefined;
}

/**
 * Many readers or one writer. A queued writer stops new readers; a write holder may take the
 * read lock (downgrade); a read holder asking for the write lock gets `LockUpgradeError` at once.
 */
export interface ReadWriteLock {
  readonly key: string;
  readonly read: LockMode;
  readonly write: LockMode;
  inspect(): Promise<ReadWriteLockInfo>;
}

// ---- Leader election ----

/** Options of `locks.election(name, options)`. */
export interface ElectionOptions {
  /**
   * What this candidate proclaims when it leads (an address, a host name): what `leader()` and
   * `observe()` report. UTF-8, at most 4 KiB.
   */
  value: string;
  /**
   * Leadership lease in milliseconds: a leader that stops renewing (a crash, a freeze, a cut
   * connection) is deposed this long after its last renewal, and its `signal` fires before any
   * rival can be granted. The watchdog renews it about every `ttlMs / 3`. Defaults to the
   * client's `ttlMs`.
   */
  ttlMs?: number;
}

/** Options of `election.campaign()`. */
export interface CampaignOptions {
  /** How long to wait for leadership, in milliseconds. Defaults to the client's `waitTimeoutMs`. */
  waitTimeoutMs?: number;
  /** Abort the campaign; the promise then rejects with `signal.reason` and nothing is left on the server. */
  signal?: AbortSignal;
  /** Defaults to the client's `strategy`. */
  strategy?: WaitStrategy;
  /** Called once if leadership is lost (in addition to the client-wide `onLost`). */
  onLost?: OnLost;
}

/** Options of `election.run()`. */
export interface RunOptions extends CampaignOptions {
  /**
   * After leadership is lost (not after `fn` returns or throws), campaign again and run `fn`
   * again, until `signal` aborts.
   * @default false
   */
  requeue?: boolean;
}

/** The current leader, as `leader()` and `observe()` report it. */
export interface LeaderInfo {
  readonly value: string;
  /** The leader's term: strictly increasing per election name, a fencing token. */
  readonly term: bigint;
  /** Public id of the leading client (its `clientId`). */
  readonly holder: string;
  /** Estimated end of the leader's lease unless renewed, milliseconds since the Unix epoch. */
  readonly expiresAt: number;
}

/** This candidate's leadership, renewed by the watchdog until resigned or lost. */
export interface Leadership extends AsyncDisposable {
  readonly name: string;
  /** Strictly greater than the term of every earlier leader of this election: a fencing token. */
  readonly term: bigint;
  /** The value proclaimed last. */
  readonly value: string;
  /** Aborted (reason: `LockLostError`) when leadership is lost, before any rival can be granted. */
  readonly signal: AbortSignal;
  /** Whether this candidate still leads as far as this client knows. */
  readonly held: boolean;
  /** When the lease ends unless renewed, milliseconds since the Unix epoch (conservative). */
  readonly expiresAt: number;
  /** Change the value everyone sees; a deposed leader gets `LockNotHeldError`. */
  proclaim(value: string): Promise<void>;
  /** Step down. `true`: this call resigned; `false`: leadership was already gone. */
  resign(): Promise<boolean>;
}

/** One election: campaign, read the leader, observe changes. */
export interface Election {
  readonly name: string;
  /**
   * Wait for leadership. Rejects with `LockTimeoutError` when the wait runs out and with
   * `signal.reason` on abort, leaving nothing on the server either way.
   */
  campaign(options?: CampaignOptions): Promise<Leadership>;
  /** The live leader, or `null` when there is none. */
  leader(): Promise<LeaderInfo | null>;
  /**
   * The leader now and after every change (a new term, a proclaimed value, `null` when there is
   * none), never going back in term, until `signal` aborts or the iterator is returned.
   */
  observe(options?: { signal?: AbortSignal }): AsyncIterableIterator<LeaderInfo | null>;
  /**
   * Campaign, run `fn` while leading (its `signal` aborts when leadership is lost), resign when
   * it settles; with `requeue`, campaign again after a loss. Resolves with `fn`'s result.
   */
  run<T>(
    fn: (signal: AbortSignal, leadership: Leadership) => Promise<T> | T,
    options?: RunOptions,
  ): Promise<T>;
}

// ---- Several keys at once ----

/** Options of `locks.acquireAll(keys, options)`. */
export type AcquireAllOptions = Omit<AcquireOptions, 'owner'>;

/** Options of `locks.tryAcquireAll(keys, options)`. */
export type TryAcquireAllOptions = Omit<TryAcquireOptions, 'owner'>;

/** Several mutex keys held together, taken in canonical order. */
export interface MultiLock extends AsyncDisposable {
  /** One lock per distinct key, in canonical order (UTF-8 bytes). */
  readonly locks: readonly Lock[];
  /** Every member's fencing token, by key. */
  readonly fencingTokens: ReadonlyMap<string, bigint>;
  /** Aborted (reason: the member's `LockLostError`) when any member is lost. */
  readonly signal: AbortSignal;
  /** Whether every member is still held. */
  readonly held: boolean;
  /**
   * Release every member. `true` when all were released by this call; throws an
   * `AggregateError` of the members' backend failures after trying every member.
   */
  release(): Promise<boolean>;
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
  /**
   * A counting semaphore on `key` (its own namespace: not the mutex of the same key). Throws
   * `LockUnsupportedError` at once when the backend cannot give one with this limit, and
   * `LockArgumentError` for a bad key or limit; no I/O until a permit is asked for.
   */
  semaphore(key: string, options: SemaphoreOptions): Semaphore;
  /**
   * A read-write lock on `key` (its own namespace). Throws `LockUnsupportedError` at once when the
   * backend has none.
   */
  readWriteLock(key: string): ReadWriteLock;
  /**
   * A leader election named `name`: at most one leader at a time across every process, with a
   * value and a strictly increasing term. `LockUnsupportedError` when the backend has none.
   */
  election(name: string, options: ElectionOptions): Election;
  /**
   * Take several keys together without deadlock: distinct keys in one canonical order (UTF-8
   * bytes), atomically where the backend can, one deadline (`waitTimeoutMs`) for the whole set;
   * on failure nothing stays held. `tryAcquireAll` is its zero-wait form.
   */
  acquireAll(keys: readonly string[], options?: AcquireAllOptions): Promise<MultiLock>;
  /** One attempt at every key: the set, or `null` (nothing held) when any key is busy. */
  tryAcquireAll(keys: readonly string[], options?: TryAcquireAllOptions): Promise<MultiLock | null>;
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
