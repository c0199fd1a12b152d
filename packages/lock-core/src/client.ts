import { type AcquireHost, type Attempt, acquireWithWait } from './acquire.js';
import type { Granted, LockBackend } from './backend.js';
import { monotonicNow, toEpoch } from './clock.js';
import { findReentryOwner, runInFrame } from './context.js';
import { channels } from './diagnostics.js';
import { LockClosedError, LockUnsupportedError } from './errors.js';
import { guardBackend } from './guard-backend.js';
import { Lease, type LeaseHost } from './lease.js';
import { LeaseTable } from './lease-table.js';
import { LockHandle } from './lock-handle.js';
import {
  type CallKind,
  type CallOptions,
  defaultCallOptions,
  normalizeCallOptions,
  normalizeClientOptions,
} from './options.js';
import { defaultClientId, newOwnerToken } from './owner.js';
import type { Lock, LockClient, LockClientOptions, LockInfo, UsingOptions } from './types.js';
import { validateFunction, validateKey } from './validate.js';
import { WaiterQueues } from './waiter-queues.js';
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
  readonly queues: WaiterQueues;
  readonly #closer = new AbortController();
  #closing: Promise<void> | undefined;

  constructor(
    readonly backend: LockBackend,
    options: LockClientOptions | undefined,
  ) {
    this.#defaults = normalizeClientOptions(options);
    this.#noOptions = defaultCallOptions(this.#defaults, backend.capabilities);
    this.#clientId = this.#defaults.clientId ?? defaultClientId();
    this.queues = new WaiterQueues(
      backend,
      (key) => this.#leases.holds(key),
      this.#defaults.maxWaiters,
    );
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
      // The routine's error wins; a release failure must not mask it.
      await lock.release().catch(() => {});
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
    let waiting: Promise<Attempt>;
    try {
      waiting = acquireWithWait(this, {
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
    } catch (error) {
      waiting = Promise.reject(error);
    }
    return waiting.then(
      (attempt) => this.#granted(key, owner, o, begun, attempt),
      (error: unknown) => this.#refused(kind, key, begun, error),
    );
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
    if (kind === 'tryAcquire' && (error as { code?: string }).code === 'DLOCK_TIMEOUT') return null;
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
    await this.backend.release({ key, owner }).catch(() => {});
    throw new LockClosedError();
  }

  /** Joins an existing local lease on re-entry, or starts a new one. */
  #leaseFor(key: string, owner: string, grant: Granted, start: number, o: CallOptions): Lease {
    const existing = this.#leases.get(key, owner);
    if (existing && grant.reentered && existing.state === 'held') {
      existing.autoExtend ||= o.autoExtend;
      existing.extended(start, grant.ttlMs);
      return existing;
    }
    // A fresh grant while we thought we held the key means our old lease silently expired.
    existing?.lose('not-held');
    const lease = new Lease(
      this,
      key,
      owner,
      grant.fencingToken,
      o.ttlMs,
      start,
      grant.ttlMs,
      o.maxHoldMs,
    );
    lease.autoExtend = o.autoExtend;
    lease.observed = this.#defaults.onLost !== undefined;
    this.#leases.set(lease);
    if (lease.timed) this.schedule(lease);
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
    this.queues.released(key, sent);
  }

  // ---- shutdown ----

  async #close(): Promise<void> {
    this.#closer.abort(new LockClosedError());
    this.#watchdog.stop();
    const leases = [...this.#leases.values()];
    // Best effort: free what we hold so others need not wait out the TTL.
    await Promise.allSettled([
      ...leases.map(async (lease) => {
        if (lease.inflight) await lease.inflight.catch(() => {});
        const holds = Math.max(1, lease.holds);
        lease.lose('client-closed');
        for (let i = 0; i < holds; i++) await this.backend.release(lease);
      }),
      this.queues.closeAll(),
    ]);
    this.#leases.clear();
    await this.backend.close();
  }
}
