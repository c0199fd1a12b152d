import { monotonicNow } from './clock.js';

/**
 * Everything that can end a wait early: the caller's AbortSignal, the wait deadline and the
 * client closing. `promise` rejects with the first reason; it is pre-handled so that nobody
 * waiting on it is never an unhandled rejection. `dispose()` removes the listeners and the
 * timer, and must run whatever the outcome.
 */
export class Interrupt {
  reason: unknown = undefined;
  interrupted = false;
  readonly promise: Promise<never>;
  #reject!: (reason: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #controller: AbortController | undefined;
  readonly #signals: AbortSignal[];
  readonly #onAbort = (event: Event): void => {
    this.fire((event.target as AbortSignal).reason);
  };

  constructor(
    signals: readonly (AbortSignal | undefined)[],
    deadline: number,
    onDeadline: () => unknown,
  ) {
    this.promise = new Promise<never>((_, reject) => {
      this.#reject = reject;
    });
    this.promise.catch(() => {});
    this.#signals = signals.filter((s): s is AbortSignal => s !== undefined);
    for (const signal of this.#signals) {
      if (signal.aborted) {
        this.fire(signal.reason);
        return;
      }
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    if (deadline !== Number.POSITIVE_INFINITY) {
      this.#timer = setTimeout(
        () => this.fire(onDeadline()),
        Math.max(0, deadline - monotonicNow()),
      );
    }
  }

  fire(reason: unknown): void {
    if (this.interrupted) return;
    this.interrupted = true;
    this.reason = reason;
    this.#reject(reason);
    this.#controller?.abort(reason);
    this.dispose();
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
    return this.interrupted ? Promise.reject(this.reason) : Promise.race([promise, this.promise]);
  }

  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const signal of this.#signals) signal.removeEventListener('abort', this.#onAbort);
  }
}
