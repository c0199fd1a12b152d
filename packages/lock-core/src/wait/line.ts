// The real one even under a test's fake timers: yielding to the event loop is not a timeout.
import { setImmediate } from 'node:timers';
import type { AcquireResult, LockBackend } from '../backend.js';
import { monotonicNow } from '../clock.js';
import { reported } from '../diagnostics.js';
import { LockQueueFullError } from '../errors.js';
import { type AbortTarget, granted, Interrupt } from './interrupt.js';
import { nativeTurn, waitNatively } from './native.js';
import { pollTurn } from './poll.js';
import { type KeyWatch, watchTurn } from './watch.js';

/**
 * How dlock waits. A client keeps one local FIFO line per key while any of its calls waits for
 * that key. Only the head of a line talks to the backend; the calls behind it wait here, as plain
 * data, so a release wakes one waiter of this client instead of all of them, and 64 waiters cost
 * the server what one does. The head waits with its call's strategy:
 *
 * - `native` (native.ts): the backend's own wait (`waitAcquire`: etcd's revision queue, MySQL
 *   `GET_LOCK` with a timeout). One call per key per client is inside it at a time.
 * - `watch` (watch.ts): ask, subscribe to the key's release events, ask again, then sleep until an
 *   event or the safety re-check at the holder's remaining TTL.
 * - `poll` (poll.ts): ask, then sleep with capped exponential backoff and full jitter.
 *
 * A call that finds nobody of its client ahead asks the backend at once (the client's fast path,
 * outside any line) and joins a line only if refused, at its front. Re-entries and `tryAcquire`
 * never wait behind others. The deadline, the caller's signal and `close()` end a wait wherever it
 * is (interrupt.ts); a grant that arrives after the caller gave up is released again.
 */

/** What the waiting code needs from its client. */
export interface AcquireHost {
  readonly backend: LockBackend;
  /** Aborted with `LockClosedError` when the client closes. */
  readonly closeSignal: AbortSignal;
}

export interface AcquireParams {
  readonly key: string;
  readonly owner: string;
  readonly ttlMs: number;
  readonly waitTimeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly strategy: 'native' | 'watch' | 'poll';
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Re-entries skip the line: the caller already holds the key. */
  readonly reentry: boolean;
  /** Refuse to wait when this many calls of the client already wait for the key. */
  readonly maxWaitersPerKey: number;
}

export interface Attempt {
  readonly result: AcquireResult;
  /** Monotonic time the granting request was sent: the start of the lease estimate. */
  readonly start: number;
}

/** Why a waiter became the head of its line. */
export type Promotion =
  /** First in line on arrival, or the previous head gave up: try at once. */
  | 'try'
  /** The previous head just got the lock: wait for its release instead of asking right away. */
  | { readonly heldForMs: number };

/**
 * One waiting call of a line. A waiter is its own node in its line's doubly linked list, so
 * joining and leaving (from anywhere in the line, on abort or timeout) are O(1).
 */
export class Waiter {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  /** In its line's list right now. */
  queued = false;
  #promoted = false;
  #napTimer: NodeJS.Timeout | undefined = undefined;
  #endNap: (() => void) | undefined = undefined;
  /** A release event that arrived while this waiter was busy asking: the next nap returns at once. */
  #wakePending = false;

  constructor(
    readonly host: AcquireHost,
    readonly p: AcquireParams,
    readonly interrupt: Interrupt,
    readonly line: Line,
  ) {}

  /** This waiter became the head of the line; later promotions are moot. */
  promote(promotion: Promotion): void {
    if (this.#promoted) return;
    this.#promoted = true;
    this.began(promotion);
  }

  /** What a waiter does on becoming the head: see `QueuedCall`. */
  protected began(_promotion: Promotion): void {}

  wake(): void {
    if (this.#endNap) this.cancelNap();
    else this.#wakePending = true;
  }

  /** Sleeps `ms`, or less if woken; rejects if the interrupt fires first. */
  nap(ms: number): Promise<void> {
    if (this.#wakePending) {
      this.#wakePending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.#endNap = resolve;
      this.#napTimer = setTimeout(endNap, ms, this);
      this.interrupt.arm(reject);
    });
  }

  /** Ends a pending nap (woken, or interrupted: then only its timer needs dropping). */
  cancelNap(): void {
    if (this.#napTimer !== undefined) clearTimeout(this.#napTimer);
    this.#napTimer = undefined;
    const resolve = this.#endNap;
    this.#endNap = undefined;
    resolve?.();
  }
}

function endNap(waiter: Waiter): void {
  waiter.cancelNap();
}

/** The local FIFO of waiters for one key, plus the key's backend watch while anyone waits. */
export class Line {
  #first: Waiter | undefined = undefined;
  #last: Waiter | undefined = undefined;
  /** Waiters in the line. */
  size = 0;
  /** The key's release subscription, made by the first watching head (see watch.ts). */
  watch: KeyWatch | undefined = undefined;

  constructor(
    readonly key: string,
    /** The client's count of waiters, kept by every line of the client. */
    private readonly count: { waiters: number },
  ) {}

  get head(): Waiter | undefined {
    return this.#first;
  }

  /** Joins at the back; becomes head at once when the line was empty and the head is free. */
  join(waiter: Waiter, headFree: boolean): void {
    waiter.prev = this.#last;
    if (this.#last) this.#last.next = waiter;
    else this.#first = waiter;
    this.#last = waiter;
    this.#added(waiter);
    if (this.size === 1 && headFree) waiter.promote('try');
  }

  /** Joins at the front: the waiter already held the head while it made its first attempt. */
  takeHead(waiter: Waiter): void {
    waiter.next = this.#first;
    if (this.#first) this.#first.prev = waiter;
    else this.#last = waiter;
    this.#first = waiter;
    this.#added(waiter);
  }

  /** A claim on the head held outside the line passes to the first waiter. */
  promoteHead(promotion: Promotion): void {
    this.#first?.promote(promotion);
  }

  /** Leaves the line; if the waiter was the head, the next one takes over. */
  leave(waiter: Waiter, promotion: Promotion): void {
    if (!waiter.queued) return;
    const { prev, next } = waiter;
    if (prev) prev.next = next;
    else this.#first = next;
    if (next) next.prev = prev;
    else this.#last = prev;
    waiter.prev = waiter.next = undefined;
    waiter.queued = false;
    this.size--;
    this.count.waiters--;
    if (prev === undefined) next?.promote(promotion);
  }

  #added(waiter: Waiter): void {
    waiter.queued = true;
    this.size++;
    this.count.waiters++;
  }
}

/**
 * A client's lines by key (a line exists while anyone waits for its key), the keys whose first
 * attempt is in flight outside any line, and the counts that `maxWaiters` and `maxWaitersPerKey`
 * bound.
 */
export class Lines extends Map<string, Line> {
  /**
   * Keys asked for right now by a call that found nobody ahead (the client's fast path): that
   * call holds the key's head, so later calls line up behind it. Ended by `endClaim`.
   */
  readonly asking = new Set<string>();
  /** Waiters of this client, across its lines. */
  readonly #count = { waiters: 0 };

  constructor(
    readonly host: AcquireHost,
    /**
     * Whether a lease of the client holds `key`. A release event heard then is stale (the echo
     * of our own release, whose waiter was woken already) or moot (the key is ours).
     */
    readonly heldHere: (key: string) => boolean,
    /** The client's `maxWaiters`: waiters across all its keys. */
    private readonly maxWaiters: number = Number.POSITIVE_INFINITY,
  ) {
    super();
  }

  /**
   * Waits in the key's line from the start: natively waiting calls, and calls that find others of
   * the client ahead for the key. Rejects with `LockQueueFullError` (before any I/O) when the
   * client has as many waiters as it allows, and as `afterRefusal` says otherwise.
   */
  acquire(p: AcquireParams): Promise<Attempt> {
    try {
      if (!p.reentry) this.#admit(p.key, p.maxWaitersPerKey, p.strategy === 'native');
    } catch (error) {
      return Promise.reject(error);
    }
    const begun = monotonicNow();
    const interrupt = new Interrupt(p.signal, this.host.closeSignal, begun + p.waitTimeoutMs, p);
    if (!p.reentry) return this.#queue(p, interrupt);
    // A native re-entry: its caller holds the key, so it waits behind nobody.
    const waiting = waitNatively(this.host, p, interrupt).then((attempt) => granted(attempt, p));
    void waiting.then(
      () => interrupt.dispose(),
      () => interrupt.dispose(),
    );
    return waiting;
  }

  /**
   * The client's first attempt was refused: the call becomes a waiter, at the front of the line
   * if it held the key's head (`claimed`). The promise settles with the grant, or rejects with
   * `LockTimeoutError` at the deadline, the signal's reason on abort, `LockClosedError` when the
   * client closes, `LockBackendError` when the backend fails, or `LockQueueFullError` when the
   * client has as many waiters as it allows. A grant that arrives after the caller gave up is
   * released again, so an abandoned wait never leaks a lock.
   */
  afterRefusal(
    p: AcquireParams,
    interrupt: Interrupt,
    claimed: boolean,
    retryAfterMs: number | undefined,
  ): Promise<Attempt> {
    try {
      if (this.#count.waiters >= this.maxWaiters)
        throw new LockQueueFullError(p.key, 'client', this.maxWaiters);
    } catch (error) {
      if (claimed) this.endClaim(p.key, 'try');
      interrupt.dispose();
      return Promise.reject(error);
    }
    if (!claimed) return this.#queue(p, interrupt);
    // The call that held the claim takes its place at the front, knowing the lock is busy; its
    // turn's cleanup hands the head on to the next waiter even if it was interrupted already.
    this.endClaim(p.key, null);
    const waiter = new Waiter(this.host, p, interrupt, this.#lineFor(p.key));
    waiter.line.takeHead(waiter);
    return lead(this, waiter, 'try', { retryAfterMs });
  }

  /**
   * A first attempt outside the line ended (the claim of `asking`): the line's first waiter, if
   * any, takes over as `promotion` says (`null`: nobody, the claimant itself joins at the front).
   */
  endClaim(key: string, promotion: Promotion | null): void {
    this.asking.delete(key);
    if (promotion !== null) this.get(key)?.promoteHead(promotion);
  }

  /**
   * The client freed `key`. Watching waiters hear the backend's event, polling ones would
   * otherwise sleep on; a release only sent so far (`sent`, on a backend that applies requests in
   * order) wakes either kind, to ask right behind it.
   */
  released(key: string, sent: boolean): void {
    const head = this.get(key)?.head;
    if (head && (sent || head.p.strategy === 'poll')) head.wake();
  }

  /** Ends every line's watch (the client is closing; its waiters are aborted by then). */
  closeAll(): Promise<unknown> {
    const lines = [...this.values()];
    this.clear();
    return Promise.allSettled(lines.map((line) => line.watch?.close()));
  }

  /** The waiter is done, either way: out of the line (handing the head on), interrupt disposed. */
  leave(waiter: Waiter, handOver: Promotion): void {
    waiter.cancelNap();
    const line = waiter.line;
    line.leave(waiter, handOver);
    if (line.size === 0 && this.get(line.key) === line) {
      this.delete(line.key);
      line.watch?.close().catch(reported('watch: close', line.key));
    }
    waiter.interrupt.dispose();
  }

  /**
   * Fails fast, before any I/O, when the call would wait beyond a bound: the key's `maxPerKey`
   * (a first attempt in flight counts, as the first in line, so the key's bound holds exactly),
   * or the client's `maxWaiters` when the call would queue at once behind others of the key (or
   * waits natively). A call that finds nobody ahead makes its first attempt; if refused, it
   * meets the client's bound in `afterRefusal` instead.
   */
  #admit(key: string, maxPerKey: number, native: boolean): void {
    if (maxPerKey === Number.POSITIVE_INFINITY && this.maxWaiters === Number.POSITIVE_INFINITY)
      return;
    const onKey = (this.get(key)?.size ?? 0) + (this.asking.has(key) ? 1 : 0);
    if (onKey >= maxPerKey) throw new LockQueueFullError(key, 'key', maxPerKey);
    if ((native || onKey > 0) && this.#count.waiters >= this.maxWaiters)
      throw new LockQueueFullError(key, 'client', this.maxWaiters);
  }

  #lineFor(key: string): Line {
    let line = this.get(key);
    if (!line) {
      line = new Line(key, this.#count);
      this.set(key, line);
    }
    return line;
  }

  /**
   * Queues the call behind the others and, once it is the head, runs its turn. Until then a
   * waiter is a few small objects (its node, its interrupt, its promise), not a suspended async
   * function.
   */
  #queue(p: AcquireParams, interrupt: Interrupt): Promise<Attempt> {
    // Interrupted already (a signal that aborts when read): never queue.
    if (interrupt.interrupted) {
      interrupt.dispose();
      return Promise.reject(interrupt.reason);
    }
    const line = this.#lineFor(p.key);
    return new Promise<Attempt>((resolve, reject) => {
      const call = new QueuedCall(this, p, interrupt, line, resolve, reject);
      interrupt.arm(call);
      line.join(call, !this.asking.has(p.key));
    });
  }
}

/** Hand-offs started in microtasks since the event loop last reached its check phase. */
let burst = 0;
let burstEnding = false;
const HAND_OFF_BURST = 256;

function endBurst(): void {
  burst = 0;
  burstEnding = false;
}

/** A waiter behind others: it waits for its turn as plain data, then leads. */
class QueuedCall extends Waiter implements AbortTarget {
  constructor(
    private readonly lines: Lines,
    p: AcquireParams,
    interrupt: Interrupt,
    line: Line,
    private readonly resolve: (attempt: Attempt) => void,
    private readonly reject: (reason: unknown) => void,
  ) {
    super(lines.host, p, interrupt, line);
  }

  /**
   * Starts leading in a microtask, as a resolved promise would: never inside the promoter. After
   * `HAND_OFF_BURST` such starts within one turn of the event loop the next start waits for the
   * loop's check phase: hand-offs that complete in microtasks (the memory backend, callers that
   * release at once) would otherwise run 50,000 waiters as one block, starving every timer of
   * the process, the watchdog's renewals included.
   */
  protected override began(promotion: Promotion): void {
    if (burst < HAND_OFF_BURST) {
      burst++;
      if (!burstEnding) {
        burstEnding = true;
        setImmediate(endBurst);
      }
      queueMicrotask(() => this.#lead(promotion));
    } else {
      setImmediate(() => this.#lead(promotion));
    }
  }

  #lead(promotion: Promotion): void {
    if (this.interrupt.interrupted) return; // `fire` ended this call already
    lead(this.lines, this, promotion, undefined).then(this.resolve, this.reject);
  }

  /** The interrupt fired while this call waited for its turn. */
  fire(reason: unknown): void {
    this.lines.leave(this, 'try');
    this.reject(reason);
  }
}

/**
 * The head's turn, with its call's strategy; whatever the outcome, the waiter then leaves its
 * line, handing the head on. `front`: the waiter held the head during its first attempt and was
 * refused (with this hint of the holder's remaining TTL).
 */
async function lead(
  lines: Lines,
  waiter: Waiter,
  promotion: Promotion,
  front: { readonly retryAfterMs: number | undefined } | undefined,
): Promise<Attempt> {
  let handOver: Promotion = 'try';
  try {
    const attempt =
      waiter.p.strategy === 'native'
        ? await nativeTurn(waiter)
        : waiter.p.strategy === 'watch'
          ? await watchTurn(waiter, lines.heldHere, promotion, front)
          : await pollTurn(waiter, promotion, front);
    if (attempt.result.acquired) handOver = { heldForMs: attempt.result.ttlMs };
    return attempt;
  } finally {
    lines.leave(waiter, handOver);
  }
}
