// The real one even under a test's fake timers: yielding to the event loop is not a timeout.
import { setImmediate } from 'node:timers';
import type { AbortTarget } from './abort-fanout.js';
import type { AcquireResult, LockBackend } from './backend.js';
import { fullJitterDelay } from './backoff.js';
import { monotonicNow } from './clock.js';
import { LockTimeoutError } from './errors.js';
import { Interrupt } from './interrupt.js';
import { type KeyQueue, type Promotion, Waiter } from './key-queue.js';
import type { WaiterQueues } from './waiter-queues.js';

/** Without a TTL hint from the backend, a watching waiter re-checks at least this often. */
const FALLBACK_RECHECK_MS = 1_000;

export interface AcquireHost {
  readonly backend: LockBackend;
  /** Aborted with `LockClosedError` when the client closes. */
  readonly closeSignal: AbortSignal;
  /** The client's local waiter queues. */
  readonly queues: WaiterQueues;
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
  /** Re-entries skip the local queue: the caller already holds the key. */
  readonly reentry: boolean;
  /** Refuse to wait when this many calls of the client already wait for the key. */
  readonly maxWaitersPerKey: number;
}

export interface Attempt {
  readonly result: AcquireResult;
  /** Monotonic time the granting request was sent: the start of the lease estimate. */
  readonly start: number;
}

/**
 * Takes the lock or throws: `LockTimeoutError` at the deadline, the signal's reason on abort,
 * `LockClosedError` when the client closes, `LockBackendError` when the backend fails,
 * `LockQueueFullError` (before any I/O) when the client has as many waiters as it allows. A
 * grant that arrives after the caller gave up is released again, so an abandoned wait never
 * leaks a lock.
 */
export async function acquireWithWait(host: AcquireHost, p: AcquireParams): Promise<Attempt> {
  const begun = monotonicNow();
  if (p.waitTimeoutMs !== 0 && !p.reentry)
    host.queues.admit(p.key, p.maxWaitersPerKey, p.strategy === 'native');
  // Re-entries never wait behind local waiters. Everyone else keeps arrival order: the first
  // arrival asks at once while holding the head of the key's queue, later ones line up behind it.
  const mayAsk = p.strategy !== 'native' && (p.reentry || host.queues.reserveHead(p.key));
  const holdsHead = mayAsk && !p.reentry;
  let first: AcquireResult | undefined;
  if (mayAsk && p.signal === undefined) {
    // Fast path: most acquisitions succeed at once and need no abort or deadline machinery.
    try {
      first = await host.backend.tryAcquire(p);
    } catch (error) {
      if (holdsHead) host.queues.releaseHead(p.key, 'try');
      throw error;
    }
    if (first.acquired) {
      if (holdsHead) host.queues.releaseHead(p.key, { heldForMs: first.ttlMs });
      return { result: first, start: begun };
    }
    if (p.waitTimeoutMs === 0) {
      if (holdsHead) host.queues.releaseHead(p.key, 'try');
      throw new LockTimeoutError(p.key, p.waitTimeoutMs);
    }
  }
  const deadline = p.waitTimeoutMs === 0 ? Number.POSITIVE_INFINITY : begun + p.waitTimeoutMs;
  const interrupt = new Interrupt(p.signal, host.closeSignal, deadline, p);
  let joined = false;
  /** Once queued, the queue disposes of the interrupt: this frame is gone by then. */
  let disposeHere = true;
  try {
    if (p.strategy === 'native') {
      if (p.waitTimeoutMs === 0) return granted(await tryOnce(host, p, interrupt), p);
      const timeoutMs = Math.max(0, deadline - monotonicNow());
      const counted = !p.reentry;
      if (counted) host.queues.nativeBegin(p.key);
      try {
        const start = monotonicNow();
        const pending = host.backend.waitAcquire!({ ...p, timeoutMs, signal: interrupt.signal });
        return granted(await settle(host, p, interrupt, pending, start), p);
      } finally {
        if (counted) host.queues.nativeEnd(p.key);
      }
    }
    if (mayAsk && first === undefined) {
      const asked = await tryOnce(host, p, interrupt);
      if (asked.result.acquired || p.waitTimeoutMs === 0) {
        if (holdsHead)
          host.queues.releaseHead(
            p.key,
            asked.result.acquired ? { heldForMs: asked.result.ttlMs } : 'try',
          );
        return granted(asked, p);
      }
      first = asked.result;
    } else if (!mayAsk && p.waitTimeoutMs === 0) {
      // tryAcquire never queues: one attempt even while local waiters wait.
      return granted(await tryOnce(host, p, interrupt), p);
    }
    // Refused at first try: only now does this call become a waiter, if the client has room.
    if (mayAsk) host.queues.admitRefused(p.key);
    joined = true;
    // The arrival that held the head takes its place at the front, knowing the lock is busy.
    if (holdsHead) host.queues.releaseHead(p.key, null);
    const retryAfterMs = first && !first.acquired ? first.retryAfterMs : undefined;
    disposeHere = false;
    // Returned, not awaited: a queued waiter keeps no suspended frame of this function alive.
    return waitInQueue(host, p, interrupt, holdsHead ? { retryAfterMs } : undefined);
  } catch (error) {
    if (holdsHead && !joined) host.queues.releaseHead(p.key, 'try');
    throw error;
  } finally {
    if (disposeHere) interrupt.dispose();
  }
}

/**
 * Queues the caller and, once it is the head, runs `lead`. Until then a waiter is a few small
 * objects (its node, its interrupt, its promise), not a suspended async function.
 *
 * `front`: the caller held the queue's head during its first attempt and was refused; it takes
 * the head now.
 */
function waitInQueue(
  host: AcquireHost,
  p: AcquireParams,
  interrupt: Interrupt,
  front: { retryAfterMs: number | undefined } | undefined,
): Promise<Attempt> {
  // Interrupted already (a signal that aborts when read): never queue. The front waiter still
  // goes through lead, whose cleanup hands the head it held on to the next waiter.
  if (!front && interrupt.interrupted) return Promise.reject(interrupt.reason);
  const queue = host.queues.queueFor(p.key);
  const strategy = p.strategy === 'watch' ? 'watch' : 'poll';
  if (front) {
    const waiter = new Waiter(strategy);
    queue.takeHead(waiter);
    return lead(host, p, interrupt, queue, waiter, 'try', front);
  }
  return new Promise<Attempt>((resolve, reject) => {
    const call = new QueuedCall(strategy, host, p, interrupt, queue, resolve, reject);
    interrupt.arm(call);
    queue.join(call, !host.queues.headReserved(p.key));
  });
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
    strategy: 'watch' | 'poll',
    private readonly host: AcquireHost,
    private readonly p: AcquireParams,
    private readonly interrupt: Interrupt,
    private readonly queue: KeyQueue,
    private readonly resolve: (attempt: Attempt) => void,
    private readonly reject: (reason: unknown) => void,
  ) {
    super(strategy);
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
    lead(this.host, this.p, this.interrupt, this.queue, this, promotion, undefined).then(
      this.resolve,
      this.reject,
    );
  }

  /** The interrupt fired while this call waited for its turn. */
  fire(reason: unknown): void {
    leave(this.host, this.interrupt, this.queue, this, 'try');
    this.reject(reason);
  }
}

/**
 * The head's loop. For a watching waiter that held the head during its first attempt it asks
 * once more after subscribing (a release between the refusal and the subscription would
 * otherwise go unnoticed until the safety re-check); a polling one naps first.
 */
async function lead(
  host: AcquireHost,
  p: AcquireParams,
  interrupt: Interrupt,
  queue: KeyQueue,
  waiter: Waiter,
  promotion: Promotion,
  front: { retryAfterMs: number | undefined } | undefined,
): Promise<Attempt> {
  let handOver: Promotion = 'try';
  try {
    let skipAsk = promotion !== 'try' || (front !== undefined && waiter.strategy === 'poll');
    let retryAfterMs = promotion === 'try' ? front?.retryAfterMs : promotion.heldForMs;
    for (let round = 0; ; round++) {
      if (waiter.strategy === 'watch' && (await interrupt.race(queue.ensureWatch())))
        skipAsk = false;
      if (!skipAsk) {
        const next = await tryOnce(host, p, interrupt);
        if (next.result.acquired) {
          handOver = { heldForMs: next.result.ttlMs };
          return next;
        }
        retryAfterMs = next.result.retryAfterMs;
      }
      skipAsk = false;
      await waiter.nap(napMs(p, waiter, round, retryAfterMs), interrupt);
    }
  } finally {
    leave(host, interrupt, queue, waiter, handOver);
  }
}

/** The waiter is done, either way: out of the queue (handing the head on), interrupt disposed. */
function leave(
  host: AcquireHost,
  interrupt: Interrupt,
  queue: KeyQueue,
  waiter: Waiter,
  handOver: Promotion,
): void {
  waiter.cancelNap();
  queue.leave(waiter, handOver);
  host.queues.dropQueueIfEmpty(queue);
  interrupt.dispose();
}

/**
 * Watching: the release event normally wakes us; the nap is only the safety re-check, due when
 * the holder's lease would run out if it stopped renewing (plus a little jitter against herds of
 * other processes doing the same). Polling: capped exponential backoff with full jitter, never
 * longer than the holder's remaining TTL.
 */
function napMs(
  p: AcquireParams,
  waiter: Waiter,
  round: number,
  retryAfterMs: number | undefined,
): number {
  if (waiter.strategy === 'watch') {
    const bound = retryAfterMs ?? FALLBACK_RECHECK_MS;
    return Math.max(1, bound + 1 + Math.random() * Math.min(25, bound / 10));
  }
  const delay = fullJitterDelay(round, p.initialDelayMs, p.maxDelayMs);
  return retryAfterMs === undefined ? delay : Math.min(delay, retryAfterMs + 1);
}

function tryOnce(host: AcquireHost, p: AcquireParams, interrupt: Interrupt): Promise<Attempt> {
  const start = monotonicNow();
  return settle(host, p, interrupt, host.backend.tryAcquire(p), start);
}

/** `pending`, sent at `start`, unless the interrupt fires first. */
async function settle(
  host: AcquireHost,
  p: AcquireParams,
  interrupt: Interrupt,
  pending: Promise<AcquireResult>,
  start: number,
): Promise<Attempt> {
  try {
    return { result: await interrupt.race(pending), start };
  } catch (error) {
    if (interrupt.interrupted) {
      // The caller is gone; if the server granted anyway, hand the lock straight back.
      pending.then(
        (result) => {
          if (result.acquired) host.backend.release(p).catch(() => {});
        },
        () => {},
      );
    }
    throw error;
  }
}

function granted(attempt: Attempt, p: AcquireParams): Attempt {
  if (!attempt.result.acquired) throw new LockTimeoutError(p.key, p.waitTimeoutMs);
  return attempt;
}
