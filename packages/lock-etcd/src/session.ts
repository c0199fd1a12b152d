/**
 * Sessions, as in etcd's `concurrency/session.go`: a session is one lease, and every key the
 * Mutex puts goes on the session of its lock's TTL. Unlike the Go session, nothing renews the
 * lease on a timer for the locks: a renewal (`extend`, the watchdog's `extendMany`) sends one
 * keep-alive for every lock on it, so a process that dies or freezes stops renewing and etcd
 * deletes its keys within the TTL. Only while a waiter is queued on it is it kept alive in the
 * background (every third of its TTL), since a waiter may wait longer than a TTL and must keep
 * its place while its process lives. All keep-alives of a backend share one stream (the driver's).
 *
 * A session is lost when etcd reports the lease gone, or when its guarantee (the send time of the
 * last answered keep-alive plus the TTL) passes without a renewal: etcd may have deleted its keys
 * by then, so nothing on it may be trusted any more, and the pool opens a new one for later keys.
 */
import { LockClosedError } from '@dlock/lock-core';
import { monotonicNow } from '@dlock/lock-core/spi';
import type { EtcdDriver, GrantedLease } from './driver.js';
import { leaseHex } from './keys.js';
import { reportError } from './report-error.js';

/** Retry a failed background keep-alive, or a failed delete of a key that must go, this soon. */
const RETRY_MS = 250;
/**
 * A renewal reuses a keep-alive sent at most this fraction of the TTL before it started (one
 * still in flight, or just answered) instead of sending another: the watchdog renews its locks in
 * several concurrent batches, and they then share one keep-alive per lease.
 */
const REUSE_FRACTION = 1 / 20;
/**
 * A session about to lapse is renewed before new keys go on it; below this, a keep-alive sent
 * alongside the key's put could arrive after etcd expired the lease.
 */
const FRESH_MS = 500;

export class Session {
  readonly id: string;
  /** The TTL etcd granted, in milliseconds (etcd raises a TTL below its minimum). */
  readonly ttlMs: number;
  readonly #driver: EtcdDriver;
  readonly #onLost: (session: Session) => void;
  #guaranteedUntil: number;
  /** Send time of the last answered keep-alive (or of the grant). */
  #lastSent: number;
  #inflight: { readonly sent: number; readonly done: Promise<void> } | undefined;
  #waiters = 0;
  #beat: NodeJS.Timeout | undefined;
  #lapse: NodeJS.Timeout | undefined;
  #lost = false;
  readonly #listeners = new Set<() => void>();
  /** Retries of keys that must go (see `withdraw`). */
  readonly #retries = new Set<NodeJS.Timeout>();

  constructor(
    driver: EtcdDriver,
    granted: GrantedLease,
    grantSentAt: number,
    onLost: (session: Session) => void,
  ) {
    this.#driver = driver;
    this.#onLost = onLost;
    this.id = granted.id;
    this.ttlMs = granted.ttlSeconds * 1000;
    this.#lastSent = grantSentAt;
    this.#guaranteedUntil = grantSentAt + this.ttlMs;
    this.#armLapse();
  }

  get lost(): boolean {
    return this.#lost;
  }

  /** Monotonic time before which etcd cannot have expired the lease. */
  get guaranteedUntil(): number {
    return this.#guaranteedUntil;
  }

  /**
   * Whether the lease's guarantee reaches `until`, or falls short of it by less than what a
   * shared keep-alive may cost (a twentieth of the TTL): then no keep-alive is worth sending.
   */
  nearlyCovers(until: number): boolean {
    return this.#guaranteedUntil >= until - this.ttlMs * REUSE_FRACTION;
  }

  /**
   * Makes sure a keep-alive sent no earlier than `notBefore` has been answered; afterwards
   * `guaranteedUntil` is at least that send time plus the TTL. Rejects if it could not be sent or
   * answered; marks the session lost (and rejects) when etcd reports the lease gone.
   */
  refresh(notBefore = monotonicNow()): Promise<void> {
    if (this.#lost) return Promise.reject(this.#lostError());
    const reuseFrom = notBefore - this.ttlMs * REUSE_FRACTION;
    if (this.#inflight && this.#inflight.sent >= reuseFrom) return this.#inflight.done;
    if (this.#lastSent >= reuseFrom) return Promise.resolve();
    const sent = monotonicNow();
    const done: Promise<void> = this.#driver.keepAlive(this.id).then(
      (ttlSeconds) => {
        if (this.#inflight?.done === done) this.#inflight = undefined;
        if (ttlSeconds <= 0) {
          const error = this.#lostError();
          this.markLost();
          throw error;
        }
        this.#acknowledged(sent, ttlSeconds * 1000);
      },
      (error: unknown) => {
        if (this.#inflight?.done === done) this.#inflight = undefined;
        throw error;
      },
    );
    this.#inflight = { sent, done };
    return done;
  }

  /** A waiter queued on this lease: keep it alive in the background until the returned call. */
  waiting(): () => void {
    this.#waiters++;
    this.#scheduleBeat();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#waiters--;
      if (this.#waiters === 0) this.#stopBeat();
    };
  }

  /**
   * Deletes one of our keys that must go (a withdrawn waiter, a refused attempt, an expired or
   * abandoned hold), only that incarnation, retrying in the background until it is gone or the
   * session is: a key left behind on a live session would block its queue until the session
   * ends. Resolves after the first attempt; never rejects.
   */
  async withdraw(
    operation: string,
    lockKey: string,
    key: string,
    createRevision: bigint,
  ): Promise<void> {
    try {
      await this.#driver.deleteIfCreateRevision(key, createRevision);
    } catch (error) {
      if (this.#lost) return;
      reportError(operation, lockKey, error);
      const timer = setTimeout(() => {
        this.#retries.delete(timer);
        void this.withdraw(operation, lockKey, key, createRevision);
      }, RETRY_MS);
      timer.unref();
      this.#retries.add(timer);
    }
  }

  markLost(): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#stopTimers();
    this.#onLost(this);
    for (const listener of [...this.#listeners]) listener();
    this.#listeners.clear();
  }

  /** Calls `listener` once when the session is lost; returns the unsubscribe function. */
  whenLost(listener: () => void): () => void {
    if (this.#lost) {
      queueMicrotask(listener);
      return () => {};
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ends the session: revokes the lease (etcd deletes every key on it) unless it was lost. */
  async end(): Promise<void> {
    const wasLost = this.#lost;
    this.#lost = true;
    this.#stopTimers();
    if (wasLost) return;
    try {
      await this.#driver.revokeLease(this.id);
    } catch (error) {
      // Nothing renews it any more: it expires on its own within its TTL.
      if (!isLeaseNotFound(error)) reportError('close', undefined, error);
    }
  }

  #acknowledged(sent: number, ttlMs: number): void {
    if (this.#lost) return;
    if (sent > this.#lastSent) this.#lastSent = sent;
    if (sent + ttlMs > this.#guaranteedUntil) {
      this.#guaranteedUntil = sent + ttlMs;
      this.#armLapse();
    }
  }

  #armLapse(): void {
    if (this.#lapse !== undefined) clearTimeout(this.#lapse);
    this.#lapse = setTimeout(
      () => {
        this.#lapse = undefined;
        if (monotonicNow() < this.#guaranteedUntil) {
          this.#armLapse();
          return;
        }
        this.markLost();
        // etcd may not have expired it yet (an answer only late): end it now, so that no key of
        // ours outlives what we believe we hold. Otherwise it expires on its own within moments.
        this.#driver.revokeLease(this.id).catch((error: unknown) => {
          if (!isLeaseNotFound(error)) reportError('extend', undefined, error);
        });
      },
      Math.max(0, this.#guaranteedUntil - monotonicNow()),
    );
    this.#lapse.unref();
  }

  #scheduleBeat(delayMs?: number): void {
    if (this.#waiters === 0 || this.#lost || this.#beat !== undefined) return;
    const due = delayMs ?? this.#lastSent + this.ttlMs / 3 - monotonicNow();
    this.#beat = setTimeout(
      () => {
        this.#beat = undefined;
        if (this.#waiters === 0 || this.#lost) return;
        // A renewal in the meantime moved the next beat on.
        if (delayMs === undefined && monotonicNow() < this.#lastSent + this.ttlMs / 3 - 1) {
          this.#scheduleBeat();
          return;
        }
        this.refresh().then(
          () => this.#scheduleBeat(),
          (error: unknown) => {
            // Reported even when the lease lapsed meanwhile: the failure is why it lapsed.
            reportError('waitAcquire', undefined, error);
            if (!this.#lost) this.#scheduleBeat(RETRY_MS);
          },
        );
      },
      Math.max(0, due),
    );
    this.#beat.unref();
  }

  #stopBeat(): void {
    if (this.#beat !== undefined) clearTimeout(this.#beat);
    this.#beat = undefined;
  }

  #stopTimers(): void {
    this.#stopBeat();
    if (this.#lapse !== undefined) clearTimeout(this.#lapse);
    this.#lapse = undefined;
    for (const timer of this.#retries) clearTimeout(timer);
    this.#retries.clear();
  }

  #lostError(): Error {
    return new Error(`lease ${leaseHex(this.id)} no longer exists`);
  }
}

/**
 * A backend's sessions, one per lock TTL (whole seconds): every lock and waiter with that TTL
 * shares one lease, so renewing N locks is one keep-alive, not N. Opens a TTL's session on first
 * use, replaces it once it is lost or has lapsed, and ends them all on close.
 */
export class SessionPool {
  readonly #driver: EtcdDriver;
  readonly #onLost: (session: Session) => void;
  readonly #sessions = new Map<number, Promise<Session>>();
  readonly #open = new Set<Session>();
  /** More `onLost` listeners: the shared keys' (semaphores, read-write locks) use the same leases. */
  readonly #lostListeners = new Set<(session: Session) => void>();
  #closed = false;

  /** `onLost`: every lock on a lost session is lost. */
  constructor(driver: EtcdDriver, onLost: (session: Session) => void) {
    this.#driver = driver;
    this.#onLost = onLost;
  }

  /** Also calls `listener` for every lost session. */
  onLost(listener: (session: Session) => void): void {
    this.#lostListeners.add(listener);
  }

  /**
   * The live session for locks of `ttlMs` (whole seconds), opening a new one if there is none or
   * the last one was lost; renewed first if it is about to lapse.
   */
  async current(ttlMs: number): Promise<Session> {
    if (this.#closed) throw new LockClosedError();
    const pending = this.#sessions.get(ttlMs);
    if (pending) {
      // A failed grant was reported to the call that opened it: open another one below.
      const session = await pending.catch(() => undefined);
      if (session && !session.lost) {
        if (session.guaranteedUntil - monotonicNow() >= FRESH_MS) return session;
        const renewed = await session.refresh().then(
          () => true,
          () => false,
        );
        if (renewed && !session.lost) return session;
        // About to lapse and not renewable: leave it to expire with its keys; use a new one.
      }
      if (this.#sessions.get(ttlMs) === pending) this.#sessions.delete(ttlMs);
    }
    if (this.#closed) throw new LockClosedError();
    let opening = this.#sessions.get(ttlMs);
    if (!opening) {
      const granting = this.#grant(ttlMs);
      this.#sessions.set(ttlMs, granting);
      granting.then(undefined, () => {
        if (this.#sessions.get(ttlMs) === granting) this.#sessions.delete(ttlMs);
      });
      opening = granting;
    }
    return opening;
  }

  /**
   * Ends every session: etcd deletes every key on them (held locks, queued waiters). If a revoke
   * fails the lease expires on its own within its TTL, as nothing renews it any more.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const pending = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.allSettled(pending);
    const open = [...this.#open];
    this.#open.clear();
    await Promise.all(open.map((session) => session.end()));
    this.#driver.closeLeases();
  }

  async #grant(ttlMs: number): Promise<Session> {
    const sentAt = monotonicNow();
    const granted = await this.#driver.grantLease(ttlMs / 1000);
    const session = new Session(this.#driver, granted, sentAt, (lost) => {
      this.#open.delete(lost);
      this.#onLost(lost);
      for (const listener of this.#lostListeners) listener(lost);
    });
    if (this.#closed) {
      await session.end();
      throw new LockClosedError();
    }
    this.#open.add(session);
    return session;
  }
}

/** Whether etcd answered that the lease does not exist (expired or revoked). */
export function isLeaseNotFound(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    // etcd3 casts etcd's message to an EtcdLeaseInvalidError whose message still contains it.
    if (e.name === 'EtcdLeaseInvalidError' || /requested lease not found/.test(e.message)) {
      return true;
    }
  }
  return false;
}
