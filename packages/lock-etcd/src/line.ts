import type { Session } from './session.js';

/** A lock this backend holds: one contender key, first in its queue, on its TTL class's lease. */
export interface Hold {
  readonly key: string;
  /** The contender key in etcd. */
  readonly etcdKey: string;
  readonly owner: string;
  /** Create revision of the contender key: the fencing token. */
  readonly token: bigint;
  modRevision: bigint;
  /** Hold count as last written to etcd. */
  count: number;
  /** The lease the key is on: its TTL class's, moved to a longer one by a longer renewal. */
  session: Session;
  /** Monotonic time at which the backend deletes the key unless extended. */
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
}

interface LocalWaiter {
  settle(turn: boolean): void;
}

/**
 * Local state of one lock key in one backend. Every owner of one TTL class in a backend maps to
 * the same contender key (one per lease and queue), and one backend keeps at most one key in a
 * queue: the line arbitrates locally, letting one local contender at a time use the queue (the
 * holder, or the one local waiter at the server), and queues the other local native waiters in
 * arrival order.
 */
export class Line {
  hold: Hold | undefined;
  /** A local contender is using the contender key at the server (acquiring or queued). */
  busy = false;
  readonly waiters: LocalWaiter[] = [];
  /** Operations in flight; the line is dropped once idle. */
  pending = 0;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(readonly key: string) {}

  get idle(): boolean {
    return !this.hold && !this.busy && this.waiters.length === 0 && this.pending === 0;
  }

  /** Runs short operations on the line one at a time (re-entries, releases, single attempts). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = this.#tail.then(fn, fn);
    this.#tail = run.then(
      () => {},
      () => {},
    );
    return run.finally(() => {
      this.pending--;
    });
  }

  /** Hands the contender key to the next local waiter when nobody uses it. */
  promote(): void {
    if (this.hold || this.busy) return;
    const next = this.waiters.shift();
    if (!next) return;
    this.busy = true;
    next.settle(true);
  }

  /**
   * Resolves `true` once this caller may use the contender key (`busy` is then set for it),
   * `false` at the deadline; rejects with the signal's reason on abort.
   */
  takeTurn(deadline: number, signals: readonly AbortSignal[]): Promise<boolean> {
    if (!this.hold && !this.busy && this.waiters.length === 0) {
      this.busy = true;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        for (const signal of signals) signal.removeEventListener('abort', onAbort);
        const index = this.waiters.indexOf(waiter);
        if (index !== -1) this.waiters.splice(index, 1);
      };
      const waiter: LocalWaiter = {
        settle: (turn) => {
          cleanup();
          resolve(turn);
        },
      };
      const onAbort = (event: Event): void => {
        cleanup();
        reject((event.target as AbortSignal).reason);
      };
      const aborted = signals.find((s) => s.aborted);
      if (aborted) {
        reject(aborted.reason);
        return;
      }
      for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      if (Number.isFinite(deadline)) {
        timer = setTimeout(
          () => waiter.settle(false),
          Math.min(2 ** 31 - 1, Math.max(0, deadline - performance.now())),
        );
      }
    });
  }
}
