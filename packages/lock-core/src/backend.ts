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
   * Free what the backend created: subscriber connections, watches, timers, connections it opened
   * itself. Connections and clients the user passed in are left open. Idempotent.
   */
  close(): Promise<void>;
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
