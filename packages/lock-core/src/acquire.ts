import type { AcquireResult, LockBackend } from './backend.js';
import { fullJitterDelay } from './backoff.js';
import { monotonicNow } from './clock.js';
import { LockTimeoutError } from './errors.js';
import { Interrupt } from './interrupt.js';
import { type KeyQueue, type Promotion, Waiter } from './key-queue.js';

/** Without a TTL hint from the backend, a watching waiter re-checks at least this often. */
const FALLBACK_RECHECK_MS = 1_000;

export interface AcquireHost {
  readonly backend: LockBackend;
  /** Aborted with `LockClosedError` when the client closes. */
  readonly closeSignal: AbortSignal;
  /** The key's queue, created on first use. */
  queueFor(key: string): KeyQueue;
  /** Number of local waiters for the key, without creating a queue. */
  waitersFor(key: string): number;
  dropQueueIfEmpty(queue: KeyQueue): void;
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
}

export interface Attempt {
  readonly result: AcquireResult;
  /** Monotonic time the granting request was sent: the start of the lease estimate. */
  readonly start: number;
}

/**
 * Takes the lock or throws: `LockTimeoutError` at the deadline, the signal's reason on abort,
 * `LockClosedError` when the client closes, `LockBackendError` when the backend fails. A grant
 * that arrives after the caller gave up is released again, so an abandoned wait never leaks a lock.
 */
export async function acquireWithWait(host: AcquireHost, p: AcquireParams): Promise<Attempt> {
  const begun = monotonicNow();
  // Arrivals queue behind local waiters (local FIFO fairness); re-entries never wait behind them.
  const mayBarge = p.strategy !== 'native' && (p.reentry || host.waitersFor(p.key) === 0);
  let asked = false;
  if (mayBarge && p.signal === undefined) {
    // Fast path: most acquisitions succeed at once and need no abort or deadline machinery.
    const result = await host.backend.tryAcquire(p);
    if (result.acquired) return { result, start: begun };
    if (p.waitTimeoutMs === 0) throw new LockTimeoutError(p.key, p.waitTimeoutMs);
    asked = true;
  }
  const deadline = p.waitTimeoutMs === 0 ? Number.POSITIVE_INFINITY : begun + p.waitTimeoutMs;
  const interrupt = new Interrupt(
    [p.signal, host.closeSignal],
    deadline,
    () => new LockTimeoutError(p.key, p.waitTimeoutMs),
  );
  const ask = (request: () => Promise<AcquireResult>): Promise<Attempt> =>
    attempt(host, p, interrupt, request);
  const tryOnce = (): Promise<Attempt> => ask(() => host.backend.tryAcquire(p));
  try {
    if (p.waitTimeoutMs === 0) return granted(await tryOnce(), p);
    if (p.strategy === 'native') {
      const timeoutMs = Math.max(0, deadline - monotonicNow());
      return granted(
        await ask(() => host.backend.waitAcquire!({ ...p, timeoutMs, signal: interrupt.signal })),
        p,
      );
    }
    if (mayBarge && !asked) {
      const first = await tryOnce();
      if (first.result.acquired) return first;
    }
    return await waitInQueue(host, p, interrupt, tryOnce);
  } finally {
    interrupt.dispose();
  }
}

async function waitInQueue(
  host: AcquireHost,
  p: AcquireParams,
  interrupt: Interrupt,
  tryOnce: () => Promise<Attempt>,
): Promise<Attempt> {
  const queue = host.queueFor(p.key);
  const waiter = new Waiter(p.strategy === 'watch' ? 'watch' : 'poll');
  let handOver: Promotion = 'try';
  queue.join(waiter);
  try {
    const promotion = await interrupt.race(waiter.turn());
    let skipAsk = promotion !== 'try';
    let retryAfterMs = promotion === 'try' ? undefined : promotion.heldForMs;
    for (let round = 0; ; round++) {
      if (waiter.strategy === 'watch') await interrupt.race(queue.ensureWatch());
      if (!skipAsk) {
        const next = await tryOnce();
        if (next.result.acquired) {
          handOver = { heldForMs: next.result.ttlMs };
          return next;
        }
        retryAfterMs = next.result.retryAfterMs;
      }
      skipAsk = false;
      await interrupt.race(waiter.nap(napMs(p, waiter, round, retryAfterMs)));
    }
  } finally {
    waiter.cancelNap();
    queue.leave(waiter, handOver);
    host.dropQueueIfEmpty(queue);
  }
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

async function attempt(
  host: AcquireHost,
  p: AcquireParams,
  interrupt: Interrupt,
  request: () => Promise<AcquireResult>,
): Promise<Attempt> {
  const start = monotonicNow();
  const pending = request();
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
