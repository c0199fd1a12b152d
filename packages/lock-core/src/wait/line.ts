// The real one even under a test's fake timers: yielding to the event loop is not a timeout.
import { setImmediate } from 'node:timers';
import type { AcquireRequest, AcquireResult, LockBackend } from '../backend.js';
import { monotonicNow } from '../clock.js';
import { reported } from '../diagnostics.js';
import { LockQueueFullError } from '../errors.js';
import { type AbortTarget, ask, granted, Interrupt, settle } from './interrupt.js';
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

/** Where a release may hand its lock over (see `Lines.handOverTarget`). */
export interface HandOverTarget {
  /** The waiter's request, as its own attempt would send it. */
  readonly request: AcquireRequest;
  readonly yieldToOthers: boolean;
  /** The hand-over was sent at `start`; `pending` is its `next` half, the waiter's attempt. */
  deliver(pending: Promise<AcquireResult>, start: number): void;
}

/** What the waiting code needs from its client. */
export interface AcquireHost {
  readonly backend: LockBackend;
  /** Aborted with `LockClosedError` when the client closes. */
  readonly closeSignal: AbortSignal;
  /**
   * A waiter that gives up after a refusal tells the backend, best effort, so that its
   * server-side queue entry stops blocking others: a shared key's `abandon`, or the lock
   * backend's where it has one (`LockBackend.abandon`). Absent: nothing to tell.
   */
  readonly abandon?: ((p: AcquireParams) => void) | undefined;
  /**
   * The key may be held by several owners at once (a semaphore or read-write lock view): after a
   * grant the next waiter asks at once instead of waiting for a release.
   */
  readonly shared?:
    | {
        /**
         * Whether a grant of `granted` permits of `key` (its lease not yet recorded) may have
         * left room for another waiter: false when this client's own leases fill it (a
         * semaphore's limit, a write), so the next waiter waits for a release instead of asking
         * only to be refused.
         */
        room(key: string, granted: number): boolean;
      }
    | undefined;
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
  /** The call may wait (`waitTimeoutMs` not 0): a fair backend queues it when refused. */
  readonly queue: boolean;
  /** Semaphore permits asked for (see shared/lease-view.ts); absent for locks. */
  readonly permits?: number | undefined;
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
  /** A lock handed over to this waiter by a release of its client (see `Lines.handOverTarget`). */
  #offered: { readonly pending: Promise<AcquireResult>; readonly start: number } | undefined =
    undefined;

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

  /** Leads already (it held the head during its first attempt): never promoted again. */
  markLeading(): void {
    this.#promoted = true;
  }

  /** A head of its line (promoted, or leading from its first attempt). */
  get leading(): boolean {
    return this.#promoted;
  }

  /**
   * Asleep in `nap`, so a wake ends the sleep now (otherwise it only marks the next nap); a
   * hand-over may be offered to it.
   */
  get napping(): boolean {
    return this.#endNap !== undefined;
  }

  get wakePending(): boolean {
    return this.#wakePending;
  }

  /** What a waiter does on becoming the head: see `QueuedCall`. */
  protected began(_promotion: Promotion): void {}

  wake(): void {
    if (this.#endNap) this.cancelNap();
    else this.#wakePending = true;
  }

  /** A release of this client sent at `start` hands the lock over to this waiter: wakes it. */
  offer(pending: Promise<AcquireResult>, start: number): void {
    this.#offered = { pending, start };
    this.wake();
  }

  /**
   * The turn ended without taking the offered hand-over (interrupted before it asked): a grant
   * it brings is handed straight back, as for any attempt whose caller gave up.
   */
  dropOffer(): void {
    const offered = this.#offered;
    if (offered === undefined) return;
    this.#offered = undefined;
    const { backend } = this.host;
    offered.pending.then(
      (result) => {
        if (result.acquired)
          backend
            .release(this.p)
            .catch(reported('hand-over: give back a grant after abort', this.p.key));
      },
      () => {},
    );
  }

  /**
   * The head's next attempt: the hand-over's outcome when one was offered (it stands for the
   * attempt, so the waiter does not ask as well), otherwise its own request to the backend.
   */
  attempt(): Promise<Attempt> {
    const offered = this.#offered;
    if (offered === undefined) return ask(this.host, this.p, this.interrupt);
    this.#offered = undefined;
    return settle(this.host, this.p, this.interrupt, offered.pending, offered.start);
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
  /** Waiters of the line leading now (promoted, or leading from their first attempt). */
  #leading = 0;
  /** Hand-overs in a row since the last plain release (see `Lines.handOverTarget`). */
  streak = 0;
  /** Monotonic time of the first hand-over of the streak. */
  streakStart = 0;

  constructor(
    readonly key: string,
    /** The client's count of waiters, kept by every line of the client. */
    private readonly count: { waiters: number },
    /**
     * How many waiters lead at once: 1 for a mutex (only one can win, so only one asks); more
     * for a key several owners hold at once (a semaphore's permits, readers), so that grants
     * to this client's waiters need not follow one another a round trip at a time.
     */
    readonly heads: number = 1,
  ) {}

  get head(): Waiter | undefined {
    return this.#first;
  }

  /** Joins at the back; leads at once when a head is free (`headFree`: no claim holds one). */
  join(waiter: Waiter, headFree: boolean): void {
    waiter.prev = this.#last;
    if (this.#last) this.#last.next = waiter;
    else this.#first = waiter;
    this.#last = waiter;
    this.#added(waiter);
    if (headFree) this.#fill('try', 0);
    else if (this.heads > 1) this.#fill('try', 1);
  }

  /** Joins at the front: the waiter already held the head while it made its first attempt. */
  takeHead(waiter: Waiter): void {
    waiter.next = this.#first;
    if (this.#first) this.#first.prev = waiter;
    else this.#last = waiter;
    this.#first = waiter;
    this.#added(waiter);
    waiter.markLeading();
    this.#leading++;
  }

  /** A claim on the head held outside the line passes to the first waiter. */
  promoteHead(promotion: Promotion): void {
    this.#fill(promotion, 0);
  }

  /**
   * Wakes the heads after a release. A mutex's one head: woken, or marked so that its next nap
   * returns at once. A shared key's heads: all of them, since which of this client's waiters
   * the server lets in next is the server's choice (its queue's head), and one woken at random
   * could be refused while the one that fits sleeps until its re-check. At most `heads` attempts.
   */
  wakeLeader(): void {
    let seen = 0;
    for (let w = this.#first; w && seen < this.#leading; w = w.next) {
      if (!w.leading) continue;
      seen++;
      if (w.napping || !w.wakePending) w.wake();
    }
  }

  /** Promotes the first waiters not leading yet until `heads` lead (`reserved`: held by a claim). */
  #fill(promotion: Promotion, reserved: number): void {
    for (let w = this.#first; w && this.#leading + reserved < this.heads; w = w.next) {
      if (w.leading) continue;
      this.#leading++;
      w.promote(promotion);
    }
  }

  /** Leaves the line; if the waiter led, the next one not leading takes over. */
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
    if (waiter.leading) {
      this.#leading--;
      this.#fill(promotion, 0);
    }
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
    /** How many waiters of a line lead at once (see `Line.heads`). */
    private readonly heads: number = 1,
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
      this.host.abandon?.(p);
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
    const line = this.get(key);
    if (line) line.streak = 0;
    if (line && (sent || line.head?.p.strategy === 'poll')) line.wakeLeader();
  }

  /**
   * Cohort hand-off: the waiter a release of `key` by this client may pass the lock to in the
   * same atomic step (`LockBackend.handOver`), or `undefined` for a plain release. Only the head
   * of the line, and only while it sleeps waiting for a release (a head with a request in flight
   * asks for itself); never on a shared key. `yieldToOthers` once the streak reached `limit`
   * hand-overs or `windowMs`: the backend then releases plainly if others may wait elsewhere, so
   * another process's waiter is not starved by this client's line.
   */
  handOverTarget(key: string, limit: number, windowMs: number): HandOverTarget | undefined {
    const line = this.get(key);
    const head = line?.head;
    if (!line || !head?.napping || head.interrupt.interrupted || head.p.reentry) return undefined;
    if (head.p.strategy === 'native' || this.host.shared) return undefined;
    const now = monotonicNow();
    if (line.streak === 0) line.streakStart = now;
    const yieldToOthers = line.streak >= limit || now - line.streakStart >= windowMs;
    return {
      request: head.p,
      yieldToOthers,
      deliver(pending, start) {
        pending.then(
          (result) => {
            if (!result.acquired) line.streak = 0;
            // Handed over although asked to yield: nobody else waits, so a new run starts here.
            else if (yieldToOthers) line.streak = 1;
            else line.streak++;
            if (result.acquired && yieldToOthers) line.streakStart = monotonicNow();
          },
          () => {
            line.streak = 0;
          },
        );
        head.offer(pending, start);
      },
    };
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
    waiter.dropOffer();
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
      line = new Line(key, this.#count, this.heads);
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
  const { shared, abandon } = lines.host;
  try {
    const attempt =
      waiter.p.strategy === 'native'
        ? await nativeTurn(waiter)
        : waiter.p.strategy === 'watch'
          ? await watchTurn(waiter, lines.heldHere, promotion, front)
          : await pollTurn(waiter, promotion, front);
    // A shared key may have room for the next waiter too: it asks at once, and so do the other
    // heads (a grant can move the server's queue on to one of them).
    if (attempt.result.acquired && !shared?.room(waiter.p.key, waiter.p.permits ?? 1))
      handOver = { heldForMs: attempt.result.ttlMs };
    else if (attempt.result.acquired && waiter.line.heads > 1) waiter.line.wakeLeader();
    return attempt;
  } catch (error) {
    // Gave up (deadline, abort, close, backend failure): a native wait cleaned up on the server
    // itself; a polling or watching one leaves its queue entry, which must not block others.
    if (waiter.p.strategy !== 'native') abandon?.(waiter.p);
    throw error;
  } finally {
    lines.leave(waiter, handOver);
  }
}
