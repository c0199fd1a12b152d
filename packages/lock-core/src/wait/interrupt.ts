import type { AcquireResult } from '../backend.js';
import { monotonicNow } from '../clock.js';
import { reported } from '../diagnostics.js';
import { LockTimeoutError } from '../errors.js';
import type { AcquireHost, AcquireParams, Attempt } from './line.js';

/** Something to tell, once, that a watched signal aborted. */
export interface AbortTarget {
  fire(reason: unknown): void;
}

/**
 * Everything that can end a wait early: the caller's AbortSignal, the wait deadline and the
 * client closing. A wait is one promise at a time (a backend call, the turn in the line, a nap):
 * it registers its `reject` with `arm()`, and `fire()` rejects it with the first reason.
 * `dispose()` stops watching the signals and the timer; it must run once the wait is over,
 * however it ended.
 *
 * Per wait this costs one object, at most one timer and no listener of its own on a shared
 * signal (see `watchAbort` below): queueing and abandoning a wait are O(1).
 */
export class Interrupt implements AbortTarget {
  reason: unknown = undefined;
  interrupted = false;
  /** Rejects the wait in progress, if any. */
  #reject: ((reason: unknown) => void) | AbortTarget | undefined = undefined;
  #timer: NodeJS.Timeout | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  #disposed = false;

  constructor(
    private readonly callerSignal: AbortSignal | undefined,
    private readonly closeSignal: AbortSignal,
    /** Monotonic time the wait times out (`Infinity`: never). */
    readonly deadline: number,
    private readonly timeout: { readonly key: string; readonly waitTimeoutMs: number },
  ) {
    if (callerSignal?.aborted) {
      this.fire(callerSignal.reason);
      return;
    }
    if (closeSignal.aborted) {
      this.fire(closeSignal.reason);
      return;
    }
    if (callerSignal) watchAbort(callerSignal, this);
    watchAbort(closeSignal, this);
    if (deadline !== Number.POSITIVE_INFINITY) {
      // Whole milliseconds, rounded up: never early, and waits begun in the same millisecond
      // with the same timeout share one of Node's timer lists (O(1) to insert and to clear).
      // Less a nanosecond: `(begun + t) - begun` can exceed `t` by a rounding error.
      const ms = Math.max(0, Math.ceil(deadline - monotonicNow() - 1e-6));
      this.#timer = setTimeout(timedOut, ms, this);
    }
  }

  fire(reason: unknown): void {
    if (this.interrupted) return;
    this.interrupted = true;
    this.reason = reason;
    const reject = this.#reject;
    this.#reject = undefined;
    if (typeof reject === 'function') reject(reason);
    else reject?.fire(reason);
    this.#controller?.abort(reason);
    this.dispose();
  }

  /** Called by the deadline timer. */
  expire(): void {
    this.fire(new LockTimeoutError(this.timeout.key, this.timeout.waitTimeoutMs));
  }

  /**
   * Makes `reject` the wait in progress: it is called (or its `fire`) if the interrupt fires
   * before the next `arm`, or at once if it fired already. Calling a settled promise's reject is
   * harmless.
   */
  arm(reject: ((reason: unknown) => void) | AbortTarget): void {
    if (!this.interrupted) this.#reject = reject;
    else if (typeof reject === 'function') reject(this.reason);
    else reject.fire(this.reason);
  }

  /** An AbortSignal that aborts (with the interrupt's reason) when the interrupt fires. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.interrupted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  /** Resolves with `promise`'s value, or rejects as soon as an interrupt fires. */
  race<T>(promise: Promise<T>): Promise<T> {
    if (this.interrupted) {
      // Nobody awaits `promise` any more: its later rejection (a backend closed meanwhile) must
      // not become an unhandled one.
      promise.catch(() => {});
      return Promise.reject(this.reason);
    }
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      promise.then(resolve, reject);
    });
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#reject = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.callerSignal) unwatchAbort(this.callerSignal, this);
    unwatchAbort(this.closeSignal, this);
  }
}

function timedOut(interrupt: Interrupt): void {
  interrupt.expire();
}

/** One attempt, cut short by the interrupt (see `settle`). */
export function ask(host: AcquireHost, p: AcquireParams, interrupt: Interrupt): Promise<Attempt> {
  const start = monotonicNow();
  return settle(host, p, interrupt, host.backend.tryAcquire(p), start);
}

/** `pending`, sent at `start`, unless the interrupt fires first. */
export async function settle(
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
      // On a queueing backend a refusal queued the caller on the server: that entry goes too, after
      // the attempt that made it (an earlier abandon could reach the server before it).
      pending.then(
        (result) => {
          if (result.acquired) {
            host.backend
              .release(p)
              .catch(reported('acquire: hand back a grant after abort', p.key));
          } else {
            host.abandon?.(p);
          }
        },
        () => host.abandon?.(p),
      );
    }
    throw error;
  }
}

/** The attempt if it was granted; a refusal at the end of a wait is its timeout. */
export function granted(attempt: Attempt, p: AcquireParams): Attempt {
  if (!attempt.result.acquired) throw new LockTimeoutError(p.key, p.waitTimeoutMs);
  return attempt;
}

// ---- abort fan-out ----

/**
 * The targets watching each signal: one target alone (the common case: a signal per call), or a
 * set of them (a signal shared by many waits, such as the client's close signal).
 */
const watching = new WeakMap<AbortSignal, AbortTarget | Set<AbortTarget>>();

/**
 * One `abort` listener per signal, however many waits watch it. Node's EventTarget walks its
 * listener list on every `addEventListener` and `removeEventListener` (to find duplicates), so a
 * listener per wait on a shared signal makes queueing n waits O(n^2); a set here is O(1) each.
 */
function onAbort(event: Event): void {
  const signal = event.target as AbortSignal;
  const entry = watching.get(signal);
  if (entry === undefined) return;
  watching.delete(signal);
  const reason = signal.reason;
  if (entry instanceof Set) for (const target of entry) target.fire(reason);
  else entry.fire(reason);
}

/** Tells `target` when `signal` aborts. The caller checks `signal.aborted` first. */
function watchAbort(signal: AbortSignal, target: AbortTarget): void {
  const entry = watching.get(signal);
  if (entry === undefined) {
    watching.set(signal, target);
    signal.addEventListener('abort', onAbort, { once: true });
  } else if (entry instanceof Set) {
    entry.add(target);
  } else if (entry !== target) {
    watching.set(signal, new Set([entry, target]));
  }
}

/** Stops telling `target`; the signal's listener goes when its last target does. */
function unwatchAbort(signal: AbortSignal, target: AbortTarget): void {
  const entry = watching.get(signal);
  if (entry === undefined) return;
  if (entry instanceof Set) {
    entry.delete(target);
    if (entry.size > 0) return;
  } else if (entry !== target) {
    return;
  }
  watching.delete(signal);
  signal.removeEventListener('abort', onAbort);
}
