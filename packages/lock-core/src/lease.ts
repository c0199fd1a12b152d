import type {
  AcquireResult,
  ExtendResult,
  LockBackend,
  OwnerRef,
  ReleaseResult,
} from './backend.js';
import { monotonicNow, toEpoch } from './clock.js';
import { channels, publish } from './diagnostics.js';
import { LockLostError, type LockLostReason, LockNotHeldError } from './errors.js';
import { liveSignal } from './live-signal.js';
import { isRenewed, renewedTtl } from './renewed-ttl.js';
import type { Lock, OnLost } from './types.js';
import { validateTtl } from './validate.js';
import type { HandOverTarget } from './wait/line.js';

/** What a lease needs from the client that owns it. */
export interface LeaseHost {
  readonly backend: LockBackend;
  readonly closed: boolean;
  readonly onLost: OnLost | undefined;
  /** Watchdog bookkeeping: (re)compute the lease's next event, or drop it. */
  schedule(lease: Lease): void;
  unschedule(lease: Lease): void;
  /** The lease no longer belongs to the client's table of held locks. */
  forget(lease: Lease): void;
  /**
   * The key was freed by this client: wake a local waiter where no backend event will, or at
   * once (`sent`: the release is on its way on a backend that applies requests in order).
   */
  released(key: string, sent: boolean): void;
  /**
   * Cohort hand-off (backends with `handOver`): the local waiter a release of `key` may pass the
   * lock to in the same atomic step, or `undefined` for a plain release.
   */
  handOverTarget?(key: string): HandOverTarget | undefined;
}

type LeaseState = 'held' | 'releasing' | 'released' | 'lost';

/** What a new lease starts from: the grant and the call's hold options. */
export interface LeaseGrant {
  readonly key: string;
  readonly owner: string;
  readonly fencingToken: bigint;
  /** The TTL the caller asked for: what renewals ask for again. */
  readonly ttlMs: number;
  /** Monotonic time the granting request was sent. */
  readonly start: number;
  /** Length of the grant as the backend reported it, from `start`. */
  readonly grantMs: number;
  readonly maxHoldMs: number;
  readonly autoExtend: boolean;
  /** Somebody listens for a loss from the start (the client has an `onLost`). */
  readonly observed: boolean;
  /** Semaphore permits the grant holds (1 for locks). */
  readonly permits?: number | undefined;
}

/**
 * One grant of one key to one owner, shared by every handle that re-entered it in this client.
 * All times are monotonic milliseconds. Its fields are written here only (by its own methods,
 * which the client and the watchdog call), except `version`, the watchdog's bookkeeping.
 */
export class Lease implements OwnerRef {
  readonly key: string;
  readonly owner: string;
  readonly fencingToken: bigint;
  readonly ttlMs: number;
  state: LeaseState = 'held';
  lostReason: LockLostReason | undefined;
  /** Handles not yet released. */
  holds = 0;
  autoExtend: boolean;
  /** See `observe()`. */
  observed = false;
  /** Local, conservative estimate of the server-side expiry. */
  deadline: number;
  /** Length of the last grant or renewal as the backend reported it (usually `ttlMs`). */
  grantMs: number;
  /**
   * The watchdog's last renewal was cut short to end at `maxHoldUntil`: no more renewals, and
   * the expiry that follows is the max-hold loss (a backend that grants less than asked, as
   * Redlock does, ends a little before `maxHoldUntil` itself).
   */
  capped = false;
  maxHoldUntil: number;
  /** Last renewal error, reported as the cause if the lease then runs out. */
  lastError: unknown;
  /** The renewal in flight, if any: a release waits for it so no renewal outlives a release. */
  inflight: Promise<unknown> | undefined;
  /** Watchdog bookkeeping: bumped on every reschedule so stale heap entries are skipped. */
  version = 0;
  /** Created on first read of `signal`: most locks are released without anyone listening. */
  #controller: AbortController | undefined;
  #signal: AbortSignal | undefined;
  #lostError: LockLostError | undefined;
  /** Usually one; more when re-entered. An array is lighter than a Set at that size. */
  readonly handles: LockHandle[] = [];
  readonly grantedAt: number;
  /** Semaphore permits this lease holds (1 for locks). */
  readonly permits: number;
  /** The next lease of the same key in the client's table (another owner): see `LeaseTable`. */
  sameKey: Lease | undefined = undefined;

  constructor(
    readonly host: LeaseHost,
    grant: LeaseGrant,
  ) {
    this.key = grant.key;
    this.owner = grant.owner;
    this.fencingToken = grant.fencingToken;
    this.ttlMs = grant.ttlMs;
    this.autoExtend = grant.autoExtend;
    this.grantedAt = grant.start;
    this.permits = grant.permits ?? 1;
    this.deadline = grant.start + grant.grantMs;
    this.grantMs = grant.grantMs;
    this.maxHoldUntil = grant.start + grant.maxHoldMs;
    this.observed = grant.observed;
    if (this.timed) host.schedule(this);
  }

  /** The owner re-entered (a grant sent at `start`, for `ttlMs`); `autoExtend` if that call asked. */
  reentered(start: number, ttlMs: number, autoExtend: boolean): void {
    this.autoExtend ||= autoExtend;
    this.extended(start, ttlMs);
  }

  // ---- the watchdog's renewals ----

  /** A renewal was sent: a release waits for it (see `releaseOne`). */
  renewing(call: Promise<unknown>): void {
    this.inflight = call;
  }

  /** The renewal in flight came back. */
  renewalDone(): void {
    this.inflight = undefined;
  }

  /**
   * The renewal sent at `start` set the expiry `ttlMs` later; `capped`: it was cut short to end
   * at `maxHoldUntil`, so no more renewals follow.
   */
  renewed(start: number, ttlMs: number, capped: boolean): void {
    if (capped) this.capped = true;
    this.extended(start, ttlMs, true);
  }

  /** The renewal failed; `error` is the cause reported if the lease then runs out. */
  renewalFailed(error: unknown): void {
    this.lastError = error;
  }

  get signal(): AbortSignal {
    if (!this.#signal) {
      const controller = new AbortController();
      if (this.#lostError) controller.abort(this.#lostError);
      this.#controller = controller;
      // Every look at the signal settles an expiry whose timer has not run yet (a busy or
      // just-resumed event loop, or no timer at all for a lease nobody watched until now).
      this.#signal = liveSignal(controller, () => this.expireIfDue(monotonicNow()));
      this.observe();
    }
    return this.#signal;
  }

  /** Whether the lease is still held by the estimate at this moment (settling an overdue loss). */
  get live(): boolean {
    this.expireIfDue(monotonicNow());
    return this.state === 'held';
  }

  /** Declares the loss of a lease whose deadline has passed; the reason says why it ran out. */
  expireIfDue(now: number): void {
    if (this.state !== 'held' || now < this.deadline) return;
    this.lose(this.capped || now >= this.maxHoldUntil ? 'max-hold' : 'expired', this.lastError);
  }

  /**
   * Somebody will hear about a loss (signal read, an onLost callback): from now on the lease's
   * expiry is a watchdog event. Until then a lease that is not auto-extended needs no timer at
   * all, which keeps a plain acquire + release cheap; `held` still compares the deadline.
   */
  observe(): void {
    if (this.observed) return;
    this.observed = true;
    if (this.state === 'held') this.host.schedule(this);
  }

  /** Whether the watchdog tracks this lease (renewals, or the expiry event). */
  get timed(): boolean {
    return this.autoExtend || this.observed;
  }

  /**
   * Renew once the remaining time falls to two thirds of the last grant (about every ttl/3), of
   * what the backend granted rather than what was asked, so a backend that grants less (Redlock's
   * validity) does not make every renewal due at once.
   */
  get renewAt(): number {
    return this.deadline - (this.grantMs * 2) / 3;
  }

  /**
   * A successful renewal (`exact`: it set the expiry, which may shorten it) or re-entry (never
   * shortens) that started at `start` put the expiry at least `ttlMs` later. Renewals of one
   * lease never overlap (see `extendNow`), so the last one to finish is the one the server kept.
   */
  extended(start: number, ttlMs: number, exact = false): void {
    this.deadline = exact ? start + ttlMs : Math.max(this.deadline, start + ttlMs);
    this.grantMs = this.deadline - start;
    this.lastError = undefined;
    if (this.state === 'held' && this.timed) this.host.schedule(this);
  }

  lose(reason: LockLostReason, cause?: unknown): void {
    if (this.state !== 'held') return;
    this.state = 'lost';
    this.lostReason = reason;
    this.host.unschedule(this);
    this.host.forget(this);
    const error = new LockLostError(this.key, reason, { cause });
    this.#lostError = error;
    this.#controller?.abort(error);
    publish('lost', () => ({ key: this.key, reason, error }));
    for (const handle of [...this.handles]) {
      callOnLost(handle.onLost, error, handle);
      callOnLost(this.host.onLost, error, handle);
    }
  }

  /** Give up one hold. Only the last local hold stops the watchdog. */
  async releaseOne(): Promise<boolean> {
    const last = --this.holds === 0;
    if (
      this.host.closed ||
      this.state === 'released' ||
      (this.state === 'lost' && this.lostReason === 'not-held')
    ) {
      if (last) this.host.forget(this);
      return false;
    }
    if (last && this.state === 'held') {
      this.state = 'releasing';
      this.host.unschedule(this);
    }
    // Only waiting for it to settle: a renewal's failure is handled (and reported) by the renewal.
    if (this.inflight) await this.inflight.catch(() => {});
    const started = channels.release.hasSubscribers ? monotonicNow() : 0;
    try {
      // The last hold, with a local waiter asleep for the key: release and grant it in one step.
      const target =
        last && this.state === 'releasing' ? this.host.handOverTarget?.(this.key) : undefined;
      let next: AcquireResult | undefined;
      let releasing: Promise<ReleaseResult>;
      if (target) {
        const sent = monotonicNow();
        const both = this.host.backend.handOver!(this, target.request, target.yieldToOthers);
        target.deliver(
          both.then((r) => r.next),
          sent,
        );
        releasing = both.then((r) => {
          next = r.next;
          return r.released;
        });
      } else {
        releasing = this.host.backend.release(this);
      }
      // Requests applied in call order: the next local waiter's attempt can follow the release
      // on the wire, served right after it, instead of waiting a round trip for the reply.
      const early = !target && last && this.host.backend.capabilities.orderedRequests === true;
      if (early) this.host.released(this.key, true);
      const result = await releasing;
      if (channels.release.hasSubscribers) {
        channels.release.publish({ key: this.key, result, heldMs: started - this.grantedAt });
      }
      if (result === 'not-held') {
        this.lose('not-held');
        return false;
      }
      // Handed over, the key never became free: nobody is to be woken.
      if (result === 'released' && !early && !next?.acquired) this.host.released(this.key, false);
      return true;
    } finally {
      if (last) {
        if (this.state === 'releasing') this.state = 'released';
        this.host.forget(this);
      }
    }
  }

  /** Owner-checked extension on the caller's request. */
  async extendNow(ttlMs: number): Promise<void> {
    // One renewal at a time, the watchdog's included: with two in flight the server keeps
    // whichever ran last, and a shorter TTL could end the lock before our estimate says.
    while (this.inflight) await this.inflight.catch(() => {});
    if (this.state !== 'held') throw new LockNotHeldError(this.key);
    const start = monotonicNow();
    const call = this.host.backend.extend({ key: this.key, owner: this.owner, ttlMs });
    this.inflight = call;
    let result: ExtendResult;
    try {
      result = await call;
    } finally {
      if (this.inflight === call) this.inflight = undefined;
    }
    const ok = isRenewed(result);
    publish('extend', () => ({
      key: this.key,
      ok,
      durationMs: monotonicNow() - start,
      watchdog: false,
    }));
    if (!ok) {
      this.lose('not-held');
      throw new LockNotHeldError(this.key);
    }
    if (this.state !== 'held') throw new LockNotHeldError(this.key);
    this.extended(start, renewedTtl(result, ttlMs), true);
  }
}

function callOnLost(onLost: OnLost | undefined, error: LockLostError, lock: Lock): void {
  if (!onLost) return;
  try {
    onLost(error, lock);
  } catch (callbackError) {
    publish('error', () => ({ where: 'onLost', error: callbackError }));
  }
}

/** The user's handle on one hold of a lease. */
export class LockHandle implements Lock {
  #released = false;

  constructor(
    readonly lease: Lease,
    readonly onLost: OnLost | undefined,
  ) {
    lease.holds++;
    lease.handles.push(this);
    if (onLost) lease.observe();
  }

  get key(): string {
    return this.lease.key;
  }
  get fencingToken(): bigint {
    return this.lease.fencingToken;
  }
  get signal(): AbortSignal {
    return this.lease.signal;
  }
  get expiresAt(): number {
    return toEpoch(this.lease.deadline);
  }
  get held(): boolean {
    return !this.#released && this.lease.live;
  }
  /** Semaphore permits held (a `Permit`); 1 for a lock. */
  get permits(): number {
    return this.lease.permits;
  }

  async extend(ttlMs?: number): Promise<void> {
    const ttl = ttlMs === undefined ? this.lease.ttlMs : validateTtl('ttlMs', ttlMs);
    if (this.#released)
      throw new LockNotHeldError(this.key, `Lock "${this.key}" was released by this handle`);
    await this.lease.extendNow(ttl);
  }

  release(): Promise<boolean> {
    if (this.#released) return Promise.resolve(false);
    this.#released = true;
    this.lease.handles.splice(this.lease.handles.indexOf(this), 1);
    return this.lease.releaseOne();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /**
   * What `util.inspect(lock)`, `console.log(lock)` and `JSON.stringify(lock)` show: never the
   * lease, whose owner token is the secret that releases and extends the lock.
   */
  toJSON(): { key: string; fencingToken: string; expiresAt: number; held: boolean } {
    return {
      key: this.key,
      fencingToken: String(this.fencingToken),
      expiresAt: this.expiresAt,
      held: this.held,
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](
    _depth: number,
    options: object,
    inspect: (value: unknown, options: object) => string,
  ): string {
    const { key, fencingToken, expiresAt, held } = this;
    return `Lock ${inspect({ key, fencingToken, expiresAt, held }, options)}`;
  }
}

/**
 * The client's held leases by key, then owner. Nearly always one owner holds a key in a client,
 * so a key maps straight to its lease, and the rare other owners of the key (an explicit shared
 * owner, or an expired lease not yet noticed) hang off it through `sameKey`: no inner map, no
 * joined string built and hashed, no allocation per acquire. Measured (10,000 held locks with
 * their watchdog entries and memory-backend state, `node --expose-gc`, 2026-12-01): about 940
 * bytes per lock either way, the chain's one field against the two-shape entries it replaced.
 */
export class LeaseTable {
  readonly #byKey = new Map<string, Lease>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(key: string, owner: string): Lease | undefined {
    for (let lease = this.#byKey.get(key); lease; lease = lease.sameKey)
      if (lease.owner === owner) return lease;
    return undefined;
  }

  /** Records `lease`, replacing the one of the same key and owner if there is one. */
  set(lease: Lease): void {
    const first = this.#byKey.get(lease.key);
    let prev: Lease | undefined;
    for (let old = first; old; prev = old, old = old.sameKey) {
      if (old.owner !== lease.owner) continue;
      if (old === lease) return;
      lease.sameKey = old.sameKey;
      old.sameKey = undefined;
      if (prev) prev.sameKey = lease;
      else this.#byKey.set(lease.key, lease);
      return;
    }
    lease.sameKey = first;
    this.#byKey.set(lease.key, lease);
    this.#size++;
  }

  /** Whether some lease of `key` is held (not releasing, released or lost). */
  /** Semaphore permits this client's live leases of `key` hold. */
  permitsHeld(key: string): number {
    let permits = 0;
    for (let lease = this.#byKey.get(key); lease; lease = lease.sameKey)
      if (lease.state === 'held') permits += lease.permits;
    return permits;
  }

  holds(key: string): boolean {
    for (let lease = this.#byKey.get(key); lease; lease = lease.sameKey)
      if (lease.state === 'held') return true;
    return false;
  }

  /** Removes `lease` if it is still the one on record for its key and owner. */
  delete(lease: Lease): void {
    let prev: Lease | undefined;
    for (let at = this.#byKey.get(lease.key); at; prev = at, at = at.sameKey) {
      if (at !== lease) continue;
      if (prev) prev.sameKey = at.sameKey;
      else if (at.sameKey) this.#byKey.set(lease.key, at.sameKey);
      else this.#byKey.delete(lease.key);
      at.sameKey = undefined;
      this.#size--;
      return;
    }
  }

  *values(): IterableIterator<Lease> {
    for (const first of this.#byKey.values())
      for (let lease: Lease | undefined = first; lease; lease = lease.sameKey) yield lease;
  }

  clear(): void {
    this.#byKey.clear();
    this.#size = 0;
  }
}
