import { LockBackendError } from '@dlock/lock-core';
import type { EtcdDriver, GrantedLease } from './driver.js';
import { leaseHex } from './keys.js';
import { reportError } from './report-error.js';

/** Retry a failed background keep-alive this soon. */
const RETRY_MS = 250;
/**
 * A renewal reuses a keep-alive sent at most this fraction of the TTL before it started (one
 * still in flight, or just answered) instead of sending another: the watchdog renews its locks in
 * several concurrent batches, and they then share one keep-alive per lease.
 */
const REUSE_FRACTION = 1 / 20;

/**
 * One etcd lease and the keys on it: the locks and queued waiters of one TTL class of a backend.
 * The lease has the lock TTL as its own, and nothing renews it on a timer for the locks: a
 * renewal (`extend`, the watchdog's `extendMany`) sends one keep-alive for all of them, so a
 * process that dies or freezes stops renewing, and etcd deletes its keys within the TTL. Only
 * while a waiter is queued on it is it kept alive in the background (every third of its TTL),
 * since a waiter may wait longer than a TTL and must keep its place while its process lives.
 *
 * The session is lost when etcd reports the lease gone, or when its guarantee (the send time of
 * the last answered keep-alive plus the TTL) passes without a renewal: etcd may have deleted its
 * keys by then, so nothing on it may be trusted any more.
 */
export class Session {
  readonly id: string;
  /** The TTL etcd granted, in milliseconds (etcd raises a TTL below its minimum). */
  readonly ttlMs: number;
  #guaranteedUntil: number;
  /** Send time of the last answered keep-alive (or of the grant). */
  #lastSent: number;
  #inflight: { readonly sent: number; readonly done: Promise<void> } | undefined;
  #waiters = 0;
  #beat: NodeJS.Timeout | undefined;
  #lapse: NodeJS.Timeout | undefined;
  #lost = false;
  readonly #listeners = new Set<() => void>();

  constructor(
    private readonly driver: EtcdDriver,
    granted: GrantedLease,
    grantSentAt: number,
    private readonly onLost: (session: Session, cause: unknown) => void,
  ) {
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
  refresh(notBefore = performance.now()): Promise<void> {
    if (this.#lost) return Promise.reject(this.#lostError());
    const reuseFrom = notBefore - this.ttlMs * REUSE_FRACTION;
    if (this.#inflight && this.#inflight.sent >= reuseFrom) return this.#inflight.done;
    if (this.#lastSent >= reuseFrom) return Promise.resolve();
    const sent = performance.now();
    const done: Promise<void> = this.driver.keepAlive(this.id).then(
      (ttlSeconds) => {
        if (this.#inflight?.done === done) this.#inflight = undefined;
        if (ttlSeconds <= 0) {
          const error = this.#lostError();
          this.markLost(error);
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

  markLost(cause: unknown): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#stopTimers();
    this.onLost(this, cause);
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

  /** Revokes the lease (etcd deletes every key on it) and stops its timers. */
  revoke(): Promise<void> {
    this.#stopTimers();
    this.#lost = true;
    return this.driver.revokeLease(this.id);
  }

  /** Stops the timers without revoking: the lease expires on its own. */
  close(): void {
    this.#stopTimers();
    this.#lost = true;
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
        if (performance.now() < this.#guaranteedUntil) {
          this.#armLapse();
          return;
        }
        this.markLost(new Error(`lease ${leaseHex(this.id)} was not renewed within its TTL`));
        // etcd may not have expired it yet (an answer only late): end it now, so that no key of
        // ours outlives what we believe we hold. Otherwise it expires on its own within moments.
        this.driver.revokeLease(this.id).catch((error: unknown) => {
          if (!isLeaseNotFound(error)) reportError('revoking a lapsed lease', error);
        });
      },
      Math.max(0, this.#guaranteedUntil - performance.now()),
    );
    this.#lapse.unref();
  }

  #scheduleBeat(delayMs?: number): void {
    if (this.#waiters === 0 || this.#lost || this.#beat !== undefined) return;
    const due = delayMs ?? this.#lastSent + this.ttlMs / 3 - performance.now();
    this.#beat = setTimeout(
      () => {
        this.#beat = undefined;
        if (this.#waiters === 0 || this.#lost) return;
        // A renewal in the meantime moved the next beat on.
        if (delayMs === undefined && performance.now() < this.#lastSent + this.ttlMs / 3 - 1) {
          this.#scheduleBeat();
          return;
        }
        this.refresh().then(
          () => this.#scheduleBeat(),
          (error: unknown) => {
            if (this.#lost) return;
            reportError('waiter lease keep-alive', error);
            this.#scheduleBeat(RETRY_MS);
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
  }

  #lostError(): LockBackendError {
    return new LockBackendError(
      'etcd',
      'lease keep-alive',
      new Error(`lease ${leaseHex(this.id)} no longer exists`),
    );
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
