import { type AbortTarget, unwatchAbort, watchAbort } from './abort-fanout.js';
import { monotonicNow } from './clock.js';
import { LockTimeoutError } from './errors.js';

/** What a timed-out wait reports. */
export interface TimeoutFacts {
  readonly key: string;
  readonly waitTimeoutMs: number;
}

/**
 * Everything that can end a wait early: the caller's AbortSignal, the wait deadline and the
 * client closing. A wait is one promise at a time (a backend call, the turn in the queue, a
 * nap): it registers its `reject` with `arm()`, and `fire()` rejects it with the first reason.
 * `dispose()` stops watching the signals and the timer, and must run whatever the outcome.
 *
 * Per wait this costs one object, at most one timer and no listener of its own on a shared
 * signal (see abort-fanout.ts): queueing and abandoning a wait are O(1).
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
    deadline: number,
    private readonly timeout: TimeoutFacts,
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
   * before the next `arm`, at once if it fired already. Calling a settled promise's reject is
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
    if (this.interrupted) return Promise.reject(this.reason);
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
