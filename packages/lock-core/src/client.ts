import type { AcquireResult, Granted, LockBackend } from './backend.js';
import { monotonicNow, toEpoch } from './clock.js';
import { channels, reported } from './diagnostics.js';
import { LockClosedError, LockTimeoutError, LockUnsupportedError } from './errors.js';
import { guardBackend } from './guard-backend.js';
import { Lease, type LeaseHost, LeaseTable, LockHandle } from './lease.js';
import { type ListedLock, type ListOptions, listLocks, planList } from './list.js';
import {
  type CallKind,
  type CallOptions,
  defaultCallOptions,
  normalizeCallOptions,
  normalizeClientOptions,
} from './options.js';
import { defaultClientId, findReentryOwner, newOwnerToken, runInFrame } from './owner.js';
import type { Lock, LockClient, LockClientOptions, LockInfo, UsingOptions } from './types.js';
import { validateFunction, validateKey } from './validate.js';
import { Interrupt, settle } from './wait/interrupt.js';
import {
  type AcquireHost,
  type AcquireParams,
  type Attempt,
  Lines,
  type Promotion,
} from './wait/line.js';
import { Watchdog } from './watchdog.js';

/**
 * Creates a lock client on a backend. The client owns the backend: `close()` closes it (the
 * backend in turn leaves the user's own driver client open).
 */
export function createLockClient(backend: LockBackend, options?: LockClientOptions): LockClient {
  return new Client(guardBackend(backend), options);
}

class Client implements LockClient, LeaseHost, AcquireHost {
  readonly #defaults;
  readonly #clientId: string;
  readonly #noOptions: Record<CallKind, CallOptions>;
  readonly #watchdog: Watchdog;
  readonly #leases = new LeaseTable();
  /** Calls waiting for keys, in one line per key (wait/line.ts). */
  readonly #lines: Lines;
  readonly #closer = new AbortController();
  #closing: Promise<void> | undefined;

  constructor(
    readonly backend: LockBackend,
    options: LockClientOptions | undefined,
  ) {
    this.#defaults = normalizeClientOptions(options);
    this.#noOptions = defaultCallOptions(this.#defaults, backend.capabilities);
    this.#clientId = this.#defaults.clientId ?? defaultClientId();
    this.#lines = new Lines(this, (key) => this.#leases.holds(key), this.#defaults.maxWaiters);
    this.#watchdog = new Watchdog(
      backend,
      this.#defaults.watchdogBatchSize,
      () => this.#leases.size,
    );
  }

  // ---- public API ----

  acquire(key: string, options?: unknown): Promise<Lock> {
    return this.#take('acquire', key, options) as Promise<Lock>;
  }

  tryAcquire(key: string, options?: unknown): Promise<Lock | null> {
    return this.#take('tryAcquire', key, options);
  }

  async using<T>(
    key: string,
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options?: UsingOptions,
  ): Promise<T> {
    validateFunction('using callback', fn);
    const lock = (await this.#take('using', key, options))!;
    let result: T;
    try {
      result = await runInFrame(this, lock.key, lock.lease.owner, () => fn(lock.signal, lock));
    } catch (error) {
      // The routine's error wins; a release failure must not mask it (it goes to dlock:error).
      await lock.release().catch(reported('using: release after the callback threw', lock.key));
      throw error;
    }
    await lock.release();
    return result;
  }

  async inspect(key: string): Promise<LockInfo | null> {
    validateKey(key);
    this.#assertOpen();
    const start = monotonicNow();
    const state = await this.backend.inspect(key);
    if (!state) return null;
    return {
      key,
      holder: state.owner, // guardBackend already reduced it to the public part
      count: state.count,
      expiresAt: toEpoch(start + state.ttlMs),
      fencingToken: state.fencingToken,
    };
  }

  async forceRelease(key: string): Promise<boolean> {
    validateKey(key);
    if (!this.backend.forceRelease) {
      throw new LockUnsupportedError(
        'forceRelease',
        `The ${this.backend.name} backend does not support forceRelease()`,
      );
    }
    this.#assertOpen();
    return this.backend.forceRelease(key);
  }

  list(prefix = '', options?: ListOptions): AsyncIterableIterator<ListedLock> {
    const plan = planList(prefix, options);
    if (!this.backend.list) {
      throw new LockUnsupportedError(
        'list',
        `The ${this.backend.name} backend does not support list()`,
      );
    }
    this.#assertOpen();
    return listLocks(this.backend, plan, () => this.#assertOpen());
  }

  async purge(key: string): Promise<boolean> {
    validateKey(key);
    if (!this.backend.purge) {
      throw new LockUnsupportedError(
        'purge',
        `The ${this.backend.name} backend does not support purge()`,
      );
    }
    this.#assertOpen();
    return this.backend.purge(key);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** `util.inspect(client)`: its backend and state, not the queues (they hold owner tokens). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `LockClient { backend: '${this.backend.name}', closed: ${this.closed} }`;
  }

  // ---- acquisition ----

  /**
   * Not an async function: while a call waits, its state is the acquisition's few objects and
   * this promise's two callbacks, not a suspended frame (about half a kilobyte less per waiter).
   */
  #take(kind: CallKind, key: string, options: unknown): Promise<LockHandle | null> {
    let o: CallOptions;
    let owner: string;
    let reentry: boolean;
    try {
      validateKey(key);
      o =
        options === undefined
          ? this.#noOptions[kind]
          : normalizeCallOptions(kind, options, this.#defaults, this.backend.capabilities);
      this.#assertOpen();
      if (o.signal?.aborted) throw o.signal.reason;
      const inherited = o.owner === undefined ? findReentryOwner(this, key) : undefined;
      owner = o.owner ?? inherited ?? newOwnerToken(this.#clientId);
      reentry = inherited !== undefined || this.#leases.get(key, owner) !== undefined;
    } catch (error) {
      return Promise.reject(error);
    }
    // Timings only for subscribers: a clock read is not free on the hot path.
    const begun = channels.acquireEnd.hasSubscribers ? monotonicNow() : 0;
    if (channels.acquireStart.hasSubscribers)
      channels.acquireStart.publish({ key, strategy: o.strategy, reentry });
    const waiting = this.#acquire({
      key,
      owner,
      reentry,
      ttlMs: o.ttlMs,
      waitTimeoutMs: o.waitTimeoutMs,
      signal: o.signal,
      strategy: o.strategy,
      initialDelayMs: o.initialDelayMs,
      maxDelayMs: o.maxDelayMs,
      maxWaitersPerKey: o.maxWaitersPerKey,
    });
    return waiting.then(
      (attempt) => this.#granted(key, owner, o, begun, attempt),
      (error: unknown) => this.#refused(kind, key, begun, error),
    );
  }

  /**
   * Asks the backend at once when nobody of this client is ahead for the key (or when the call
   * never waits behind others: a re-entry, tryAcquire), and becomes a waiter only if refused.
   * Natively waiting calls, and calls that would wait behind others, wait in the key's line from
   * the start. How a call waits: wait/line.ts. (This frame ends as the call starts waiting: it
   * returns the line's promise.)
   */
  async #acquire(p: AcquireParams): Promise<Attempt> {
    const lines = this.#lines;
    const { key } = p;
    const ahead = lines.asking.has(key) || lines.has(key);
    const mayWait = p.waitTimeoutMs !== 0;
    if ((p.strategy === 'native' && mayWait) || (ahead && mayWait && !p.reentry))
      return lines.acquire(p);
    // While this call asks it holds the key's head: later calls of the client line up behind it.
    const claims = !ahead && !p.reentry && p.strategy !== 'native';
    if (claims) lines.asking.add(key);
    const start = monotonicNow();
    // Only a call with a signal pays for the interrupt up front: the signal (or close(), or the
    // deadline, which counts from here) may cut the first attempt short.
    const interrupt =
      p.signal === undefined
        ? undefined
        : new Interrupt(
            p.signal,
            this.closeSignal,
            mayWait ? start + p.waitTimeoutMs : Infinity,
            p,
          );
    let result: AcquireResult;
    try {
      const pending = this.backend.tryAcquire(p);
      result = interrupt
        ? (await settle(this, p, interrupt, pending, start)).result
        : await pending;
    } catch (error) {
      if (claims) this.#endClaim(key, 'try');
      interrupt?.dispose();
      throw error;
    }
    if (result.acquired || !mayWait) {
      if (claims) this.#endClaim(key, result.acquired ? { heldForMs: result.ttlMs } : 'try');
      interrupt?.dispose();
      if (!result.acquired) throw new LockTimeoutError(key, 0);
      return { result, start };
    }
    return lines.afterRefusal(
      p,
      interrupt ?? new Interrupt(undefined, this.closeSignal, start + p.waitTimeoutMs, p),
      claims,
      result.retryAfterMs,
    );
  }

  /**
   * The fast path's attempt ended: a call that lined up behind it meanwhile takes over as
   * `promotion` says (`Lines.endClaim`, written out so that the free path stays in this file).
   */
  #endClaim(key: string, promotion: Promotion): void {
    this.#lines.asking.delete(key);
    this.#lines.get(key)?.promoteHead(promotion);
  }

  #refused(kind: CallKind, key: string, begun: number, error: unknown): null {
    if (channels.acquireEnd.hasSubscribers) {
      channels.acquireEnd.publish({
        key,
        acquired: false,
        waitMs: monotonicNow() - begun,
        error,
      });
    }
    if (kind === 'tryAcquire' && LockTimeoutError.isInstance(error)) return null;
    throw error;
  }

  #granted(
    key: string,
    owner: string,
    o: CallOptions,
    begun: number,
    attempt: Attempt,
  ): LockHandle | Promise<never> {
    const grant = attempt.result as Granted;
    if (channels.acquireEnd.hasSubscribers) {
      channels.acquireEnd.publish({
        key,
        acquired: true,
        reentered: grant.reentered,
        fencingToken: grant.fencingToken,
        waitMs: monotonicNow() - begun,
      });
    }
    // Closed while the grant was on its way: hand it back rather than leak it.
    if (this.#closer.signal.aborted) return this.#handBack(key, owner);
    return new LockHandle(this.#leaseFor(key, owner, grant, attempt.start, o), o.onLost);
  }

  async #handBack(key: string, owner: string): Promise<never> {
    await this.backend
      .release({ key, owner })
      .catch(reported('acquire: hand back after close', key));
    throw new LockClosedError();
  }

  /** Joins an existing local lease on re-entry, or starts a new one. */
  #leaseFor(key: string, owner: string, grant: Granted, start: number, o: CallOptions): Lease {
    const existing = this.#leases.get(key, owner);
    if (existing && grant.reentered && existing.state === 'held') {
      existing.reentered(start, grant.ttlMs, o.autoExtend);
      return existing;
    }
    // A fresh grant while we thought we held the key means our old lease silently expired.
    existing?.lose('not-held');
    const lease = new Lease(this, {
      key,
      owner,
      fencingToken: grant.fencingToken,
      ttlMs: o.ttlMs,
      start,
      grantMs: grant.ttlMs,
      maxHoldMs: o.maxHoldMs,
      autoExtend: o.autoExtend,
      observed: this.#defaults.onLost !== undefined,
    });
    this.#leases.set(lease);
    return lease;
  }

  #assertOpen(): void {
    if (this.#closer.signal.aborted) throw new LockClosedError();
  }

  // ---- LeaseHost / AcquireHost ----

  get closed(): boolean {
    return this.#closer.signal.aborted;
  }

  get closeSignal(): AbortSignal {
    return this.#closer.signal;
  }

  get onLost() {
    return this.#defaults.onLost;
  }

  schedule(lease: Lease): void {
    this.#watchdog.schedule(lease);
  }

  unschedule(lease: Lease): void {
    this.#watchdog.unschedule(lease);
  }

  forget(lease: Lease): void {
    this.#leases.delete(lease);
  }

  released(key: string, sent: boolean): void {
    this.#lines.released(key, sent);
  }

  // ---- shutdown ----

  async #close(): Promise<void> {
    this.#closer.abort(new LockClosedError());
    this.#watchdog.stop();
    const leases = [...this.#leases.values()];
    // Best effort: free what we hold so others need not wait out the TTL.
    await Promise.allSettled([
      ...leases.map(async (lease) => {
        // Settling only: the renewal handles its own failure.
        if (lease.inflight) await lease.inflight.catch(() => {});
        const holds = Math.max(1, lease.holds);
        lease.lose('client-closed');
        for (let i = 0; i < holds; i++) await this.backend.release(lease);
      }),
      this.#lines.closeAll(),
    ]);
    this.#leases.clear();
    await this.backend.close();
  }
}
