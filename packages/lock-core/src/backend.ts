/**
 * The backend SPI: the whole contract between `@dlock/lock-core` and an adapter.
 *
 * An adapter implements a handful of atomic primitives on its server and declares what else it
 * can do. Everything that is policy lives in the core and is never re-implemented by adapters:
 * input validation, waiting (polling, watch wake-ups, the local line of waiters per key,
 * deadlines, abort: see `src/wait/`), the watchdog, choosing owner tokens and reentrancy scopes,
 * disposal and instrumentation. The core lines its callers up: per key, at most one call of a
 * client is waiting on the backend at a time (`tryAcquire` for a polling or watching head,
 * `waitAcquire` for a native one); re-entries and `tryAcquire()` calls may still run beside it.
 *
 * Rules every method follows:
 * - Inputs are already validated by the core. Keys are non-empty, well-formed strings of at most
 *   512 UTF-8 bytes and may contain anything (quotes, braces, wildcards, emoji): send them to the
 *   server as parameters (Lua KEYS/ARGV, SQL placeholders), never spliced into code.
 * - Expiry is decided by the server's clock where the server has one (Redis PX, MySQL NOW(3),
 *   etcd leases), never by this client's wall clock.
 * - A server or driver failure rejects with `LockBackendError` (or any error: the core wraps
 *   anything that is not a `LockError` into `LockBackendError` with the original as `cause`).
 *   "Not held" and "held by someone else" are results, not errors.
 * - Methods never throw synchronously and never leave a rejected promise unobserved.
 */

/**
 * The version of this contract. Every backend object declares it as `specificationVersion`; the
 * core refuses a backend with another (or no) version with a `LockArgumentError` before any I/O,
 * so a future incompatible change to this file is detected at `createLockClient`, not by a
 * misread result. It changes only when a method's meaning or shape changes incompatibly; new
 * optional operations and capabilities do not change it.
 */
export const SPECIFICATION_VERSION = 1;

/** The SPI version this `@dlock/lock-core` implements: see {@link SPECIFICATION_VERSION}. */
export type SpecificationVersion = typeof SPECIFICATION_VERSION;

/** What a backend can do beyond the required primitives. The core falls back where one is missing. */
export interface BackendCapabilities {
  /**
   * `watch()` is implemented: the backend can tell the core that a key was (probably) released,
   * so waiters wake on the event instead of polling.
   */
  readonly watch: boolean;
  /**
   * `waitAcquire()` is implemented: the server itself queues the caller and grants when free
   * (etcd's revision queue, MySQL `GET_LOCK` with a timeout). Preferred by `strategy: 'auto'`.
   */
  readonly nativeWait: boolean;
  /**
   * The smallest unit of TTL the server honours, in milliseconds: 1 for Redis and MySQL, 1000 for
   * etcd leases. The core rounds nothing; the adapter rounds TTLs up to its granularity and
   * reports the real expiry in `expiresAt`.
   */
  readonly ttlGranularityMs: number;
  /** `extendMany()` is implemented: the watchdog renews many locks in one round trip. */
  readonly batchExtend: boolean;
  /**
   * The server applies this backend's requests in the order the calls were made (each call
   * writes its request before it first yields, on one connection per server, as ioredis does).
   * The core then lets the next local waiter ask for a key right after the release was sent,
   * not after its reply: a hand-off inside one process costs one round trip, not two. A backend
   * that answered out of order would lose only speed (the early attempt is refused and the
   * waiter waits for the release event). Optional.
   * @default false
   */
  readonly orderedRequests?: boolean;
  /**
   * `list()` is implemented: the backend can enumerate the held keys under a prefix (for
   * `client.list()` and `dlock ls`). Optional.
   * @default false
   */
  readonly list?: boolean;
  /**
   * `handOver()` is implemented: the core passes a released lock straight to the next waiter of
   * its own line in one atomic step (cohort hand-off), bounded by the client's `handOverLimit`.
   * Optional.
   * @default false
   */
  readonly handOver?: boolean;
  /**
   * With `tryAcquireMany`: the most keys one call may carry (the core splits larger sets into
   * consecutive calls, in canonical order, holding the earlier ones).
   * @default 64
   */
  readonly maxManyKeys?: number;
}

/** Identifies one hold: the lock's key and the secret owner token of the holder. */
export interface OwnerRef {
  readonly key: string;
  /** Secret token of the holder (at least 128 random bits unless the caller chose one). */
  readonly owner: string;
}

export interface AcquireRequest extends OwnerRef {
  /** Lease length in milliseconds (positive integer, at most 2^31-1). */
  readonly ttlMs: number;
  /**
   * `tryAcquire` only: the caller will wait if refused (`acquire`, `using`), as opposed to a
   * single attempt (`tryAcquire`, `waitTimeoutMs: 0`), as `LeaseAcquireRequest.queue`. A backend
   * with a server-side waiter queue for locks (lock-redis with `fair: true`) queues a refused
   * request that has it, with a waiter lease of `ttlMs` that the core's re-checks renew (so its
   * `retryAfterMs` is at most a third of it), and drops the entry on `abandon`; a request
   * without it is never queued and never granted past a queued waiter. Others ignore it.
   * Absent: `false`.
   */
  readonly queue?: boolean | undefined;
}

export type AcquireResult = Granted | Refused;

/** The lock is held by `owner` after this call. */
export interface Granted {
  readonly acquired: true;
  /**
   * The grant's fencing token: strictly greater than the token of every earlier grant of this key
   * on this backend, across restarts of clients. A re-entry returns the token of the grant it
   * re-enters.
   */
  readonly fencingToken: bigint;
  /**
   * `true` when the owner already held the key and this call only bumped its hold count (and made
   * sure the expiry is at least `ttlMs` away).
   */
  readonly reentered: boolean;
  /**
   * Milliseconds until the server expires the lock, counted from the moment the core made this
   * call: the core starts its conservative expiry estimate then. For `tryAcquire` this is `ttlMs`
   * (rounded up to the backend's granularity) for a new grant; `waitAcquire`, whose call may wait
   * long before the grant, adds the time it waited.
   */
  readonly ttlMs: number;
}

/** Somebody else holds the key. */
export interface Refused {
  readonly acquired: false;
  /**
   * The holder's remaining TTL in milliseconds as the server sees it, when known. Waiters use it
   * as the bound of their safety re-check: even if no release event ever arrives, the lock cannot
   * outlive this without being renewed. `undefined` when the backend cannot tell.
   */
  readonly retryAfterMs?: number | undefined;
}

/**
 * What a renewal answers:
 * - `false`: the owner does not hold the key (expired, taken over, never held); the lock is lost.
 * - `true`: renewed; the server keeps it `ttlMs` (as requested) from the moment the core made the
 *   call.
 * - `{ ttlMs }`: renewed, but for a different length, counted from the same moment as
 *   `Granted.ttlMs` is: a backend that must subtract something says so (Redlock subtracts its
 *   clock-drift allowance), and the core's expiry estimate, `lock.expiresAt` and the signal then
 *   follow it rather than the requested TTL.
 */
export type ExtendResult = boolean | { readonly ttlMs: number };

/**
 * - `released`: the owner's last hold was given up and the key is free.
 * - `decremented`: the owner still holds the key (re-entered; count went down by one).
 * - `not-held`: the owner did not hold the key (expired, taken over, or never held). Nothing
 *   was changed.
 */
export type ReleaseResult = 'released' | 'decremented' | 'not-held';

/** What {@link LockBackend.handOver} did: each half as the call it stands for would report it. */
export interface HandOverResult {
  /** The outcome for `from`, as `release(from)` reports it. */
  readonly released: ReleaseResult;
  /** The outcome for `to`, as `tryAcquire(to)` reports it (refused when the lock was yielded). */
  readonly next: AcquireResult;
}

/** What the server knows about a key. */
export interface LockState {
  readonly key: string;
  /** The holder's owner token as stored. The core never exposes the secret part to users. */
  readonly owner: string;
  /** Hold count of the owner (1 unless re-entered). */
  readonly count: number;
  /** Remaining TTL in milliseconds as the server sees it. */
  readonly ttlMs: number;
  /** Fencing token of the current grant, when the backend can read it cheaply. */
  readonly fencingToken?: bigint | undefined;
}

/** Returned by `watch()`; `close()` must be idempotent. */
export interface WatchHandle {
  close(): Promise<void> | void;
}

export interface NativeWaitRequest extends AcquireRequest {
  /** Give up after this many milliseconds (`Infinity`: no limit). */
  readonly timeoutMs: number;
  /**
   * Aborts the wait. The backend must then stop waiting, undo anything it queued on the server
   * (for example delete its etcd queue key) and reject with `signal.reason`. If the grant races
   * the abort and wins, the backend releases it again before rejecting.
   */
  readonly signal: AbortSignal;
}

export interface LockBackend {
  /** The SPI version the backend implements: always `1` for this contract. */
  readonly specificationVersion: SpecificationVersion;
  /** Short name for errors and diagnostics, such as `redis` or `memory`. */
  readonly name: string;
  readonly capabilities: BackendCapabilities;

  /**
   * Atomically: grant the key to `owner` if it is free or its holder's lease has expired (new
   * fencing token, count 1, expiry `ttlMs` from now); re-enter if `owner` already holds it (count
   * plus one, expiry extended to at least `ttlMs` from now, never shortened, same fencing token);
   * otherwise refuse and report the holder's remaining TTL.
   */
  tryAcquire(request: AcquireRequest): Promise<AcquireResult>;

  /**
   * Owner-checked renewal: if `owner` holds `key`, set its expiry to `ttlMs` from now (server
   * clock) and resolve `true` (or `{ ttlMs }`, see {@link ExtendResult}); otherwise change
   * nothing and resolve `false`. Never re-creates an expired lock.
   */
  extend(request: AcquireRequest): Promise<ExtendResult>;

  /**
   * Owner-checked release of one hold (see {@link ReleaseResult}). A release that frees the key
   * must trigger the watch notification for it.
   */
  release(request: OwnerRef): Promise<ReleaseResult>;

  /** The current holder of `key`, or `null` when it is free or expired. */
  inspect(key: string): Promise<LockState | null>;

  /**
   * Capability `batchExtend`: `extend` for many locks in one round trip (a pipeline or a
   * multi-statement call). Resolves one {@link ExtendResult} per request, in order. Rejects only
   * when the whole batch failed; the core then treats every request in it as failed.
   */
  extendMany?(requests: readonly AcquireRequest[]): Promise<ExtendResult[]>;

  /**
   * Capability `watch`: call `onRelease` whenever `key` may have become free. Resolves once the
   * subscription is live, so an event published after the promise settles is not missed. The
   * core keeps one watch per key per client while it has waiters, and wakes one local waiter per
   * event; a new watch on a key may start before the previous one's `close()` has finished, so
   * count subscriptions per key rather than assuming one.
   *
   * The core makes one acquire attempt after each watch is live and before it waits, so a backend
   * may announce only the releases of keys someone was refused on since the lock was granted
   * (lock-redis does: a refused acquire sets a waiter flag, and a release publishes only if the
   * flag is there); waiters of the releasing client itself are woken by the core directly.
   *
   * Spurious calls are harmless (the woken waiter just tries again). A backend that may have
   * missed events (a subscriber reconnect, a compacted watch) must call `onRelease` once after it
   * recovers so that waiters re-check. A lock that simply expires may produce no event: the
   * core's safety re-check at the holder's remaining TTL covers that case.
   */
  watch?(key: string, onRelease: () => void): Promise<WatchHandle>;

  /**
   * Capability `nativeWait`: wait on the server for the key and acquire it (or re-enter), within
   * `timeoutMs`. Resolves the grant, or a refusal when the time ran out. See
   * {@link NativeWaitRequest} for abort handling. The core calls it for the head of the key's
   * local line only: one call per key per client at a time (a re-entry, whose caller holds the
   * key, may come beside it), the next one as soon as it returns. The server orders the waiters
   * of different processes; the backend keeps no local queue of its own.
   */
  waitAcquire?(request: NativeWaitRequest): Promise<AcquireResult>;

  /**
   * Optional, for backends that queue waiting requests on the server (see
   * {@link AcquireRequest.queue}): the owner gave up waiting (timeout, abort, close), so remove
   * its queue entry, and if the backend had already granted it the key on its behalf (a release
   * passing the lock straight to the head of the queue), give that grant up as `release` would.
   * Idempotent; resolves whether an entry was there. The core calls it, best effort, for every
   * non-native wait given up after a refusal.
   */
  abandon?(request: OwnerRef): Promise<boolean>;

  /**
   * Operator escape hatch (optional): delete `key`'s lock whoever holds it, publishing the release
   * like `release` does. Resolves whether a lock was there. The fencing counter is kept, so later
   * grants still get larger tokens. The holder learns of it at its next renewal.
   */
  forceRelease?(key: string): Promise<boolean>;

  /**
   * Capability `list`: one page of the keys held under `prefix` (see {@link ListRequest} and
   * {@link ListPage}). Each entry is read atomically per key (owner, count, TTL and token belong to
   * one grant); the page as a whole need not be one snapshot. Expired holds are never listed.
   */
  list?(request: ListRequest): Promise<ListPage>;

  /**
   * Optional: delete what a free `key` left on the server (its fencing counter, waiter flag or
   * state row), so nothing of it remains. Deletes nothing and resolves `false` while the key is
   * held; resolves `true` once nothing of a free key is left. Only for backends that floor fresh
   * tokens at the server's time: the next grant's token then still exceeds every earlier one
   * (the counter only breaks ties within a microsecond and across a clock step back).
   */
  purge?(key: string): Promise<boolean>;

  /**
   * Capability `handOver` (cohort hand-off): atomically, with no other request in between,
   * `release(from)` and then `tryAcquire(to)`, for the same key (`to.key === from.key`, `to` a
   * different owner that does not hold the key). When `from` gives up its last hold, `to` gets
   * the lock without the key ever being free: a fresh grant with a new fencing token strictly
   * larger than `from`'s (the same rule as any fresh grant), count 1, expiry `to.ttlMs` from now,
   * and no release announcement (nobody else could have taken the key). When `from` held more
   * than one hold, or did not hold the key, each half behaves exactly as the call it stands for.
   *
   * `yieldToOthers`: when someone outside may be waiting for the key (a backend that flags
   * refused attempts knows this: lock-redis's waiter flag), do a plain release instead (announced
   * as usual) and refuse `to`, so that other processes get their turn; the core sets it once its
   * fairness bound is reached. A backend that cannot tell treats it as always true.
   */
  handOver?(from: OwnerRef, to: AcquireRequest, yieldToOthers: boolean): Promise<HandOverResult>;

  /**
   * Free what the backend created: subscriber connections, watches, timers, connections it opened
   * itself. Connections and clients the user passed in are left open. Idempotent.
   */
  close(): Promise<void>;

  /**
   * Optional: keys that several owners may hold at once, for semaphores and read-write locks
   * (see {@link SharedBackend}). A backend without it supports the mutex only; the core then
   * refuses `semaphore()` and `readWriteLock()` with `LockUnsupportedError` before any I/O.
   */
  readonly shared?: SharedBackend;

  /**
   * Optional: leader elections (see {@link ElectionBackend}). A backend without it cannot run
   * `election()`; the core refuses it with `LockUnsupportedError` before any I/O.
   */
  readonly election?: ElectionBackend;

  /**
   * Optional (`acquireAll`'s fast path): one all-or-nothing attempt on several mutex keys, each
   * request as `tryAcquire`'s. Either every key is granted (each result `acquired: true`, each
   * with its own fencing token, as a single `tryAcquire` would give it) or none is held
   * afterwards: every result is then `acquired: false`, a key held by another owner with its
   * holder's `retryAfterMs` where the backend knows it and a free key without one, and the keys
   * that were free are left untouched (never taken and given back, so nobody sees them held). Keys arrive distinct
   * and in canonical order. The core never sends keys that {@link manyGroup} puts in different
   * groups in one call, nor more than {@link BackendCapabilities.maxManyKeys}. Re-entry follows
   * `tryAcquire`'s rule per key. Fair-queued keys (a backend's fair mode) are refused here when
   * another owner waits for them, as `tryAcquire` would be.
   */
  tryAcquireMany?(requests: readonly AcquireRequest[]): Promise<AcquireResult[]>;

  /**
   * Optional, with `tryAcquireMany`: which keys one atomic attempt may span. Keys with the same
   * group go together (one Redis Cluster slot, say); the core takes the groups one after the
   * other in the order of their group strings (compared as UTF-8 bytes), which is one global order, so
   * callers that hold a group while waiting for the next never deadlock. Without it every set
   * is one group.
   */
  manyGroup?(key: string): string;
}

// ---- Semaphores and read-write locks ----------------------------------------------------------

/**
 * The three kinds of lease a shared key grants. A semaphore key and a read-write key are two
 * namespaces of their own on the server, apart from the mutex's: `semaphore('k')`,
 * `readWriteLock('k')` and `acquire('k')` never see one another.
 *
 * - `semaphore`: takes `permits` of the key's `limit`; several owners hold at once while the
 *   permits they took add up to at most `limit`.
 * - `read`: shared; any number of readers hold at once while no writer holds.
 * - `write`: exclusive; granted only while nobody else holds the key in either mode.
 */
export type LeaseKind = 'semaphore' | 'read' | 'write';

/** Identifies one owner's lease of one kind on a shared key. */
export interface LeaseRef extends OwnerRef {
  readonly kind: LeaseKind;
}

export interface LeaseAcquireRequest extends LeaseRef {
  /** Lease length in milliseconds (positive integer, at most 2^31-1). */
  readonly ttlMs: number;
  /** `semaphore`: the limit the caller expects (positive integer). `1` for `read` and `write`. */
  readonly limit: number;
  /** `semaphore`: how many permits this lease takes (1..limit). `1` for `read` and `write`. */
  readonly permits: number;
  /**
   * `semaphore`: store `limit` as the key's limit even if another one is stored (the caller
   * changes it on purpose). Without it, a stored limit that differs from `limit` rejects with
   * `LockLimitError` and changes nothing. The limit is stored with the key while anyone holds
   * or waits for it; a key nobody holds or waits for has no limit and takes the caller's.
   */
  readonly changeLimit: boolean;
  /**
   * The caller will wait if refused (`acquire`, `using`), as opposed to a single attempt
   * (`tryAcquire`, `waitTimeoutMs: 0`). A refused request with `queue: true` takes (or keeps) its
   * place in the key's **waiter queue** on the server; see {@link SharedBackend}.
   */
  readonly queue: boolean;
}

export interface LeaseWaitRequest extends LeaseAcquireRequest {
  /** As {@link NativeWaitRequest.timeoutMs}. */
  readonly timeoutMs: number;
  /** As {@link NativeWaitRequest.signal}: the backend removes its queue entry on abort. */
  readonly signal: AbortSignal;
}

/** One lease of a shared key as the server knows it. */
export interface LeaseState {
  readonly kind: LeaseKind;
  /** The holder's owner token as stored (the core shows only its public part). */
  readonly owner: string;
  /** Permits this lease takes (`1` for read and write). */
  readonly permits: number;
  /** Hold count of the owner for this kind (1 unless re-entered). */
  readonly count: number;
  /** Remaining TTL in milliseconds as the server sees it. */
  readonly ttlMs: number;
  readonly fencingToken?: bigint | undefined;
}

/** What the server knows about a shared key; `inspect` resolves `null` when nobody holds or waits. */
export interface SharedState {
  readonly key: string;
  /** `semaphore`: the stored limit. Read-write keys: `Infinity` (any number of readers). */
  readonly limit: number;
  /** Live leases, in grant order where the backend knows it. */
  readonly holders: readonly LeaseState[];
  /** Live entries of the waiter queue, when the backend can count them cheaply. */
  readonly waiters?: number | undefined;
}

/**
 * What the shared-key operations can do beyond the required ones (as in
 * {@link BackendCapabilities}).
 */
export interface SharedCapabilities {
  /**
   * The largest semaphore limit this backend grants safely. `Infinity` for a single server;
   * `1` for Redlock (with limit 2 over 3 nodes, three clients may hold majorities AB, BC and AC).
   * `0`: no semaphores. The core refuses a larger limit with `LockUnsupportedError` before any I/O.
   */
  readonly maxSemaphoreLimit: number;
  /** Read-write locks are supported. */
  readonly readWrite: boolean;
  /** `watch()` is implemented. */
  readonly watch: boolean;
  /** `waitAcquire()` is implemented (the server orders and grants waiters itself). */
  readonly nativeWait: boolean;
  /** `extendMany()` is implemented. */
  readonly batchExtend: boolean;
}

/**
 * Keys held by several owners at once: semaphores and read-write locks. The mutex's rules apply
 * (parameters never spliced, expiry on the server's clock, owner-checked extend and release,
 * results not errors for "busy" and "not held"); what is new:
 *
 * - **Leases.** Each grant is a lease of its own with its own expiry, renewed on its own by
 *   `extend`. An expired lease stops counting at once, whoever else keeps renewing, and leases of
 *   different TTLs never evict one another (expiry is each lease's own server-clock deadline,
 *   never "now minus the caller's TTL").
 * - **Re-entry.** An owner asking again for a kind it holds re-enters: count plus one, same
 *   token, same permits, expiry extended to at least `ttlMs` from now. Re-entry is granted even
 *   when the key is full or writers wait.
 * - **Downgrade and upgrade.** An owner holding `write` may take `read` (granted at once, beside
 *   its write lease; releasing the write then leaves the read). An owner holding only `read`
 *   asking for `write` rejects with `LockUpgradeError` at once (it would wait for itself).
 * - **Waiter queue and fairness.** A refused request with `queue: true` enters the key's waiter
 *   queue, in arrival order, with a waiter lease of its `ttlMs` on the server clock (a dead
 *   waiter delays the queue by at most that), or refreshes its entry if it has one. A request is
 *   granted only if it fits and no live queue entry of another owner arrived before it; so a
 *   queued writer stops new readers, and a queued `permits: limit` request is not starved by
 *   single permits. A grant removes the owner's entry. The refusal's `retryAfterMs` must be at
 *   most a third of the waiter lease, so that the core's safety re-check keeps the entry alive.
 *   Whenever the head of the queue may now fit (a release, an expiry noticed, a grant that left
 *   room, an entry removed), the backend triggers the watch notification. A quorum backend
 *   (Redlock) cannot keep arrival order across independent nodes without a livelock (three
 *   writers, each first on a different node, never win a majority): it gives writer preference
 *   instead (a waiting writer's entry stops new readers; writers race among themselves) and
 *   says so in its README.
 * - **Several askers per client.** On a shared key the core lets up to as many of one client's
 *   waiters ask at once as could be granted together (a semaphore's limit, up to 16; readers up
 *   to 16; one writer; one `waitAcquire`), instead of the mutex's one per key.
 * - **Fencing.** One counter per key: every semaphore and write grant takes the next value; a
 *   read grant carries a token at least that of every write granted before it (the counter's
 *   current value, or a fresh one). Tokens never go back, also after every lease expired.
 */
export interface SharedBackend {
  readonly capabilities: SharedCapabilities;
  /** Grant, re-enter or refuse one lease; see {@link SharedBackend} for the rules. */
  tryAcquire(request: LeaseAcquireRequest): Promise<AcquireResult>;
  /** Owner-checked renewal of the owner's lease of `kind`: as `LockBackend.extend`. */
  extend(request: LeaseRef & { readonly ttlMs: number }): Promise<ExtendResult>;
  /** `batchExtend`: as `LockBackend.extendMany`. */
  extendMany?(
    requests: readonly (LeaseRef & { readonly ttlMs: number })[],
  ): Promise<ExtendResult[]>;
  /**
   * Owner-checked release of one hold of `kind` (see {@link ReleaseResult}); `released` frees the
   * lease (and only it: the owner's other kind stays). Triggers the watch notification.
   */
  release(request: LeaseRef): Promise<ReleaseResult>;
  /**
   * The owner gave up waiting (timeout, abort, close): remove its waiter-queue entry, if any,
   * and trigger the watch notification if that lets the next waiter in. Idempotent; resolves
   * whether an entry was there. Never touches a granted lease.
   */
  abandon(request: LeaseRef): Promise<boolean>;
  /** Live leases and stored limit of a key of this family, or `null` when nobody holds or waits. */
  inspect(family: 'semaphore' | 'read-write', key: string): Promise<SharedState | null>;
  /** `watch`: as `LockBackend.watch`, per family and key. */
  watch?(
    family: 'semaphore' | 'read-write',
    key: string,
    onRelease: () => void,
  ): Promise<WatchHandle>;
  /** `nativeWait`: as `LockBackend.waitAcquire`, for one lease. */
  waitAcquire?(request: LeaseWaitRequest): Promise<AcquireResult>;
  /**
   * Operator escape hatch (optional): delete every lease and queue entry of the key, keeping the
   * fencing counter. Resolves whether anything was there.
   */
  forceRelease?(family: 'semaphore' | 'read-write', key: string): Promise<boolean>;
}

/**
 * What an adapter package exports so that `connect(url)` can build its backend. The backend it
 * returns owns any client it created from the URL and closes it in `close()`.
 */
export interface BackendAdapterModule {
  connectBackend(url: URL, options: Readonly<Record<string, unknown>>): Promise<LockBackend>;
}

/** One page of `list()`. */
export interface ListRequest {
  /**
   * Only keys that start with this string (compared as UTF-8 bytes, case-sensitive; `''`: every
   * key). It is plain text: a backend whose server matches patterns (Redis SCAN MATCH, SQL LIKE)
   * escapes the pattern characters in it, so `a*` lists `a*1`, never `ab`.
   */
  readonly prefix: string;
  /**
   * About how many locks this page should hold: a hint (Redis SCAN's COUNT is one), so a page
   * may hold fewer (even none, with a `cursor` to go on) or somewhat more.
   */
  readonly limit: number;
  /** Where to go on: the `cursor` of the previous page; absent for the first page. */
  readonly cursor?: string | undefined;
}

/** A held key as `list()` reports it: {@link LockState} plus what the server knows of waiters. */
export interface ListedState extends LockState {
  /**
   * How many contenders wait for the key, when the server knows (etcd's revision queue);
   * `undefined` when it cannot tell (Redis, SQL, SQLite: waiters poll or wait client-side).
   */
  readonly waiters?: number | undefined;
}

export interface ListPage {
  /** Held keys of this page, in no particular order; a key may recur on a later page. */
  readonly locks: readonly ListedState[];
  /** Pass it back for the next page; `undefined` when the listing is complete. */
  readonly cursor?: string | undefined;
}

// ---- Leader election -------------------------------------------------------------------------

/**
 * A candidate's request. `key` is the election's name (its own namespace on the server, apart
 * from the mutex's and the shared keys'), `owner` the candidate's secret token, `ttlMs` the
 * candidate's lease, `value` what it proclaims when it leads.
 */
export interface CampaignRequest extends AcquireRequest {
  /** The leader's public value (an address, a host name): UTF-8, at most 4 KiB. */
  readonly value: string;
  /**
   * The caller may wait (`waitTimeoutMs` not 0): a backend with a candidate queue (etcd, or a
   * fair backend) enqueues a refused request with a waiter lease of `ttlMs`, as the shared keys'
   * waiter queue does, so leadership passes in arrival order. A backend without one ignores it.
   */
  readonly queue: boolean;
}

/** A candidate's wait on the server (`nativeWait`). */
export interface CampaignWaitRequest extends CampaignRequest {
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

/** The election's current leader, as `ElectionBackend.leader` reports it. */
export interface LeaderState {
  /** The leader's owner token (the core reduces it to its public part before users see it). */
  readonly owner: string;
  readonly value: string;
  /** The leader's term: its grant's fencing token. */
  readonly term: bigint;
  /** The leader's remaining lease, in milliseconds, by the server's clock. */
  readonly ttlMs: number;
}

/** What an election backend can do. */
export interface ElectionCapabilities {
  /** `watch` is implemented: the core's waits and `observe()` learn of changes at once. */
  readonly watch: boolean;
  /** `waitCampaign` is implemented: the server keeps the candidates' queue and grants in order. */
  readonly nativeWait: boolean;
  /** `extendMany` is implemented. */
  readonly batchExtend: boolean;
}

/**
 * Leader elections: a leadership is a lease like a mutex hold, with a value and a term.
 *
 * - **Leadership.** At most one live leader per name. `campaign` grants when there is none (an
 *   expired leader counts as none) and no live queued candidate of another owner arrived first:
 *   the grant's `fencingToken` is the leader's **term**, strictly greater than every earlier
 *   term of this name, also after the leader's lease expired or was resigned, after the server
 *   restarted from its persistence, and on etcd equal to the leader key's create revision (the
 *   value `etcdctl elect` leaders carry). The value is stored with the grant atomically: nobody
 *   ever sees a leader without its value.
 * - **Re-campaign.** The leader's own owner campaigning again re-enters (`reentered: true`, same
 *   term, count plus one, lease extended) and proclaims the new value.
 * - **Queue.** With `queue: true` a refused candidate keeps a waiter entry with a lease of
 *   `ttlMs` on the server's clock, renewed by its re-checks (`retryAfterMs <= ttlMs / 3`) and
 *   removed by `abandon` or by its grant; a candidate whose entry lapsed is never granted from
 *   it (it asks afresh, at the back). Backends without a queue grant to whoever asks first after
 *   the leader goes.
 * - **Proclaim.** Owner-checked: changes the live leader's value, keeps the term and the expiry;
 *   `false` when `owner` does not lead (expired, resigned, deposed). Triggers the watch.
 * - **Resign.** As `release`: `released`, `decremented` or `not-held`; it triggers the watch.
 * - **Nothing left behind.** An aborted or timed-out candidate's `abandon` removes its entry;
 *   a resigned or expired leader leaves only the term counter (never a value a reader could
 *   mistake for a leader).
 */
export interface ElectionBackend {
  readonly capabilities: ElectionCapabilities;
  /** Grant, re-enter or refuse leadership; see {@link ElectionBackend}. */
  campaign(request: CampaignRequest): Promise<AcquireResult>;
  /** Owner-checked renewal of the leader's lease: as `LockBackend.extend`. */
  extend(request: AcquireRequest): Promise<ExtendResult>;
  /** `batchExtend`: as `LockBackend.extendMany`. */
  extendMany?(requests: readonly AcquireRequest[]): Promise<ExtendResult[]>;
  /** Owner-checked value change of the live leader; `false` when `owner` does not lead. */
  proclaim(request: OwnerRef & { readonly value: string }): Promise<boolean>;
  /** Owner-checked release of one hold of leadership: as `LockBackend.release`. */
  resign(request: OwnerRef): Promise<ReleaseResult>;
  /** The candidate gave up: remove its queue entry, if any (as `SharedBackend.abandon`). */
  abandon(request: OwnerRef): Promise<boolean>;
  /** The live leader of `key`, or `null`. */
  leader(key: string): Promise<LeaderState | null>;
  /**
   * `watch`: call `onChange` (at least once, possibly more) whenever the leader or its value may
   * have changed: a resign, an expiry the backend notices, a grant, a proclaim. As
   * `LockBackend.watch` otherwise.
   */
  watch?(key: string, onChange: () => void): Promise<WatchHandle>;
  /** `nativeWait`: as `LockBackend.waitAcquire`, for a candidate. */
  waitCampaign?(request: CampaignWaitRequest): Promise<AcquireResult>;
}
