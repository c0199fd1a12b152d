import type {
  AcquireResult,
  ElectionBackend,
  Granted,
  LeaseKind,
  LockBackend,
  OwnerRef,
  SharedBackend,
} from './backend.js';
import { monotonicNow, toEpoch } from './clock.js';
import { channels, reported } from './diagnostics.js';
import { ElectionHandle } from './election/election.js';
import { electionOptions } from './election/election-options.js';
import { type CampaignValues, electionView } from './election/election-view.js';
import {
  LockClosedError,
  LockTimeoutError,
  LockUnsupportedError,
  LockUpgradeError,
} from './errors.js';
import { guardBackend } from './guard-backend.js';
import { Lease, type LeaseHost, LeaseTable, LockHandle } from './lease.js';
import { type ListedLock, type ListOptions, listLocks, planList } from './list.js';
import { type MultiHost, takeAll } from './multi/acquire-all.js';
import {
  type CallKind,
  type CallOptions,
  type ClientDefaults,
  defaultCallOptions,
  normalizeCallOptions,
  normalizeClientOptions,
  supportsStrategy,
} from './options.js';
import { defaultClientId, findReentryOwner, newOwnerToken, runInFrame } from './owner.js';
import { leaseView } from './shared/lease-view.js';
import { ReadWriteLockHandle } from './shared/read-write-lock.js';
import { SemaphoreHandle, semaphoreOptions } from './shared/semaphore.js';
import type {
  AcquireAllOptions,
  Election,
  ElectionOptions,
  Lock,
  LockClient,
  LockClientOptions,
  LockInfo,
  MultiLock,
  ReadWriteLock,
  Semaphore,
  SemaphoreOptions,
  TryAcquireAllOptions,
  UsingOptions,
} from './types.js';
import { validateFunction, validateKey } from './validate.js';
import { Interrupt, settle } from './wait/interrupt.js';
import {
  type AcquireHost,
  type AcquireParams,
  type Attempt,
  type HandOverTarget,
  Lines,
  type Promotion,
} from './wait/line.js';
import { Watchdog } from './watchdog.js';

/**
 * Creates a lock client on a backend. The client owns the backend: `close()` closes it (the
 * backend in turn leaves the user's own driver client open).
 */
export function createLockClient(backend: LockBackend, options?: LockClientOptions): LockClient {
  const defaults = normalizeClientOptions(options);
  return new Client(guardBackend(backend), defaults, defaults.clientId ?? defaultClientId());
}

/**
 * What makes a client the engine of a semaphore, read-write lock or election (see
 * shared/lease-view.ts, election/election-view.ts): its backend is a view on the parent's
 * shared-key or election operations, its calls pass `permits`, and a waiter that gives up tells
 * the server.
 */
export interface SharedEngine {
  readonly kind: LeaseKind | 'election';
  /** The waiter gave up: drop its server-side queue entry, which must not block others. */
  readonly abandon: (ref: OwnerRef) => Promise<boolean>;
  /**
   * The identity reentrancy scopes are recorded under: the read and write engines of a
   * client share one, so a read inside `write.using` finds the writer's owner (a downgrade), and
   * a write inside `read.using` finds the reader's (an upgrade, refused).
   */
  readonly scope: object;
  /** Whether `owner` holds `key` in the other mode (the read engine, seen from the write one). */
  readonly heldAsReader?: ((key: string, owner: string) => boolean) | undefined;
  /** How many waiters of one key lead at once (see `Line.heads`). */
  readonly heads: number;
  /** The semaphore's limit (1 for read and write engines). */
  readonly limit: number;
}

/**
 * Waiters of one key that ask at once on a shared key: as many as could be granted together (a
 * semaphore's limit, readers), bounded so that a release never sets off more than this many
 * attempts from one client.
 */
const MAX_SHARED_HEADS = 16;

export class Client implements LockClient, LeaseHost, AcquireHost {
  readonly #defaults;
  readonly #clientId: string;
  readonly #engine: SharedEngine | undefined;
  /** Reentrancy scopes are recorded under this (the client itself, or its engine's scope). */
  readonly #scope: object;
  /** Engines of this client's semaphores and read-write locks, by kind and limit. */
  readonly #engines = new Map<string, Client>();
  /** The read and write engines' shared reentrancy scope. */
  readonly #readWriteScope = {};
  /** The values of this client's campaigns in progress, by owner (see election/election-view.ts). */
  readonly #campaignValues: CampaignValues = new Map();
  readonly shared: AcquireHost['shared'];
  readonly abandon: AcquireHost['abandon'];
  readonly #noOptions: Record<CallKind, CallOptions>;
  readonly #watchdog: Watchdog;
  readonly #leases = new LeaseTable();
  /** Calls waiting for keys, in one line per key (wait/line.ts). */
  readonly #lines: Lines;
  readonly #closer = new AbortController();
  #closing: Promise<void> | undefined;
  #multi: MultiHost | undefined;

  constructor(
    readonly backend: LockBackend,
    defaults: ClientDefaults,
    clientId: string,
    engine?: SharedEngine,
  ) {
    this.#defaults = defaults;
    this.#noOptions = defaultCallOptions(this.#defaults, backend.capabilities);
    this.#clientId = clientId;
    this.#engine = engine;
    this.#scope = engine?.scope ?? this;
    this.shared = engine && {
      room: (key, granted) =>
        engine.kind === 'read' ||
        (engine.kind === 'semaphore' && this.#leases.permitsHeld(key) + granted < engine.limit),
    };
    // A waiter that gave up drops its server-side queue entry (shared keys, fair lock backends).
    const drop = (p: AcquireParams, done: Promise<boolean>) => {
      done.catch(reported('abandon: drop the queue entry of a wait given up', p.key));
    };
    this.abandon = engine
      ? (p) => drop(p, engine.abandon({ key: p.key, owner: p.owner }))
      : backend.abandon && ((p) => drop(p, backend.abandon!({ key: p.key, owner: p.owner })));
    // On a shared key our own hold says nothing about whether a waiter of ours fits.
    const heldHere = engine ? () => false : (key: string) => this.#leases.holds(key);
    this.#lines = new Lines(this, heldHere, this.#defaults.maxWaiters, engine?.heads ?? 1);
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

  using<T>(
    key: string,
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options?: UsingOptions,
  ): Promise<T> {
    return this.usingLease(key, fn, options, undefined);
  }

  /** `acquire` / `tryAcquire` of a semaphore or read-write engine, with its permits. */
  takeLease(kind: CallKind, key: string, options: unknown, permits: number | undefined) {
    return this.#take(kind, key, options, permits);
  }

  /** `using`, with a semaphore's permits. */
  async usingLease<T>(
    key: string,
    fn: (signal: AbortSignal, lock: LockHandle) => Promise<T> | T,
    options: unknown,
    permits: number | undefined,
  ): Promise<T> {
    validateFunction('using callback', fn);
    const lock = (await this.#take('using', key, options, permits))!;
    let result: T;
    try {
      result = await runInFrame(this.#scope, lock.key, lock.lease.owner, () =>
        fn(lock.signal, lock),
      );
    } catch (error) {
      // The routine's error wins; a release failure must not mask it (it goes to dlock:error).
      await lock.release().catch(reported('using: release after the callback threw', lock.key));
      throw error;
    }
    await lock.release();
    return result;
  }

  semaphore(key: string, options: SemaphoreOptions): Semaphore {
    validateKey(key);
    const { limit, changeLimit } = semaphoreOptions(options);
    const shared = this.#sharedBackend('semaphore');
    if (limit > shared.capabilities.maxSemaphoreLimit) {
      throw new LockUnsupportedError(
        'semaphore',
        shared.capabilities.maxSemaphoreLimit === 1
          ? `The ${this.backend.name} backend gives semaphores of limit 1 only, not ${limit}: over a quorum of independent servers, each grant needs a majority of nodes with a free permit, and with limit ${limit} more than ${limit} clients can each hold a majority (with 3 nodes and 2 permits: AB, BC and AC). Use a single-server backend for larger limits`
          : `The ${this.backend.name} backend gives semaphores of limit at most ${shared.capabilities.maxSemaphoreLimit}, not ${limit}`,
      );
    }
    this.#assertOpen();
    const engine = this.#engineFor('semaphore', shared, limit, changeLimit);
    return new SemaphoreHandle(engine, shared, key, limit);
  }

  readWriteLock(key: string): ReadWriteLock {
    validateKey(key);
    const shared = this.#sharedBackend('readWriteLock');
    if (!shared.capabilities.readWrite) {
      throw new LockUnsupportedError(
        'readWriteLock',
        `The ${this.backend.name} backend does not support read-write locks`,
      );
    }
    this.#assertOpen();
    const read = this.#engineFor('read', shared, 1, false);
    const write = this.#engineFor('write', shared, 1, false);
    return new ReadWriteLockHandle(read, write, shared, key);
  }

  election(name: string, options: ElectionOptions): Election {
    validateKey(name);
    const { value, ttlMs } = electionOptions(options);
    const election = this.backend.election;
    if (!election) {
      throw new LockUnsupportedError(
        'election',
        `The ${this.backend.name} backend does not support leader elections`,
      );
    }
    this.#assertOpen();
    const engine = this.#electionEngine(election);
    return new ElectionHandle(
      engine,
      election,
      this.#campaignValues,
      this.#clientId,
      name,
      value,
      ttlMs,
    );
  }

  /** An engine's defaults: the client's strategy where its view has it, else the best it offers. */
  #engineDefaults(view: LockBackend): ClientDefaults {
    return supportsStrategy(this.#defaults.strategy, view.capabilities)
      ? this.#defaults
      : { ...this.#defaults, strategy: 'auto' as const };
  }

  /** One election engine for every election of the client, made on first use. */
  #electionEngine(election: ElectionBackend): Client {
    let engine = this.#engines.get('election');
    if (!engine) {
      const view = electionView(this.backend, election, this.#campaignValues);
      engine = new Client(view, this.#engineDefaults(view), this.#clientId, {
        kind: 'election',
        abandon: (ref) => election.abandon(ref),
        scope: {},
        // One leader at a time: a grant never leaves room for the next local candidate.
        limit: 1,
        heads: 1,
      });
      this.#engines.set('election', engine);
    }
    return engine;
  }

  acquireAll(keys: readonly string[], options?: AcquireAllOptions): Promise<MultiLock> {
    return takeAll(this.#multiHost(), keys, options, 'acquire') as Promise<MultiLock>;
  }

  tryAcquireAll(
    keys: readonly string[],
    options?: TryAcquireAllOptions,
  ): Promise<MultiLock | null> {
    return takeAll(this.#multiHost(), keys, options, 'tryAcquire');
  }

  /** What multi/acquire-all.ts uses of this client: its own acquire paths, nothing else. */
  #multiHost(): MultiHost {
    this.#multi ??= {
      backend: this.backend,
      isClosed: () => this.closed,
      callOptions: (kind, options) =>
        normalizeCallOptions(kind, options, this.#defaults, this.backend.capabilities),
      assertOpen: () => this.#assertOpen(),
      ownerFor: (key) => findReentryOwner(this.#scope, key) ?? newOwnerToken(this.#clientId),
      acquire: (key, options) => this.#take('acquire', key, options) as Promise<LockHandle>,
      tryAcquire: (key, options) => this.#take('tryAcquire', key, options),
      adopt: (key, owner, o, start, grant) => {
        if (channels.acquireStart.hasSubscribers)
          channels.acquireStart.publish({ key, strategy: o.strategy, reentry: grant.reentered });
        return this.#granted(
          key,
          owner,
          o,
          start,
          { result: grant, start },
          undefined,
        ) as LockHandle;
      },
    };
    return this.#multi;
  }

  /** Whether `owner` holds `key` through this engine (the read engine, asked by the write one). */
  holdsLease(key: string, owner: string): boolean {
    return this.#leases.get(key, owner) !== undefined;
  }

  #sharedBackend(operation: 'semaphore' | 'readWriteLock'): SharedBackend {
    const shared = this.backend.shared;
    if (!shared || (operation === 'semaphore' && shared.capabilities.maxSemaphoreLimit < 1)) {
      throw new LockUnsupportedError(
        operation,
        `The ${this.backend.name} backend does not support ${operation === 'semaphore' ? 'semaphores' : 'read-write locks'}`,
      );
    }
    return shared;
  }

  /** One engine per kind (and semaphore limit) for all keys, made on first use. */
  #engineFor(kind: LeaseKind, shared: SharedBackend, limit: number, changeLimit: boolean): Client {
    const id = `${kind}:${limit}:${changeLimit}`;
    let engine = this.#engines.get(id);
    if (!engine) {
      const view = leaseView(this.backend, shared, { kind, limit, changeLimit });
      const defaults = this.#engineDefaults(view);
      const reader = kind === 'write' ? this.#engineFor('read', shared, 1, false) : undefined;
      engine = new Client(view, defaults, this.#clientId, {
        kind,
        abandon: (ref) => shared.abandon({ kind, ...ref }),
        scope: kind === 'semaphore' ? {} : this.#readWriteScope,
        heldAsReader: reader && ((key, owner) => reader.holdsLease(key, owner)),
        // One server wait per key per client (the SPI's promise for waitAcquire); otherwise as
        // many as can be granted together.
        limit,
        heads:
          view.capabilities.nativeWait || kind === 'write'
            ? 1
            : kind === 'read'
              ? MAX_SHARED_HEADS
              : Math.min(limit, MAX_SHARED_HEADS),
      });
      this.#engines.set(id, engine);
    }
    return engine;
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
  #take(
    kind: CallKind,
    key: string,
    options: unknown,
    permits?: number | undefined,
  ): Promise<LockHandle | null> {
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
      const inherited = o.owner === undefined ? findReentryOwner(this.#scope, key) : undefined;
      owner = o.owner ?? inherited ?? newOwnerToken(this.#clientId);
      reentry = inherited !== undefined || this.#leases.get(key, owner) !== undefined;
      // A reader asking for the write lock would wait for itself: refused before any I/O.
      if (this.#engine?.heldAsReader?.(key, owner) && this.#leases.get(key, owner) === undefined) {
        throw new LockUpgradeError(key);
      }
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
      queue: o.waitTimeoutMs !== 0,
      permits,
    });
    return waiting.then(
      (attempt) => this.#granted(key, owner, o, begun, attempt, permits),
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
      // A shared key may have room for the next waiter too: it asks at once.
      if (claims)
        this.#endClaim(
          key,
          result.acquired && !this.shared?.room(key, p.permits ?? 1)
            ? { heldForMs: result.ttlMs }
            : 'try',
        );
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
    permits: number | undefined,
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
    return new LockHandle(this.#leaseFor(key, owner, grant, attempt.start, o, permits), o.onLost);
  }

  async #handBack(key: string, owner: string): Promise<never> {
    await this.backend
      .release({ key, owner })
      .catch(reported('acquire: hand back after close', key));
    throw new LockClosedError();
  }

  /** Joins an existing local lease on re-entry, or starts a new one. */
  #leaseFor(
    key: string,
    owner: string,
    grant: Granted,
    start: number,
    o: CallOptions,
    permits: number | undefined,
  ): Lease {
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
      permits,
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

  handOverTarget(key: string): HandOverTarget | undefined {
    const { handOverLimit, handOverWindowMs } = this.#defaults;
    // Not on a shared key's engine: several owners may hold it, there is no single successor.
    if (this.#engine || handOverLimit === 0 || !this.backend.handOver) return undefined;
    return this.#lines.handOverTarget(key, handOverLimit, handOverWindowMs);
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
    await Promise.allSettled([...this.#engines.values()].map((engine) => engine.close()));
    this.#engines.clear();
    await this.backend.close();
  }
}
