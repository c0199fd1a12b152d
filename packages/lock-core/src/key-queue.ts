import type { LockBackend, WatchHandle } from './backend.js';

/** Why a waiter became the head of its queue. */
export type Promotion =
  /** First in line on arrival, or the previous head gave up: try at once. */
  | 'try'
  /** The previous head just got the lock: wait for its release instead of asking right away. */
  | { readonly heldForMs: number };

/**
 * One local waiter. Only the head of a key's queue talks to the backend; the rest wait for their
 * turn, so a release wakes one waiter of this client instead of all of them, and 64 waiters cost
 * the server what one does.
 */
export class Waiter {
  #turn: { resolve: (p: Promotion) => void; promise: Promise<Promotion> } | undefined;
  #wake: (() => void) | undefined;
  /** A release event that arrived while this waiter was busy asking: the next nap returns at once. */
  #wakePending = false;

  constructor(readonly strategy: 'watch' | 'poll') {}

  /** Resolves when this waiter becomes the head of the queue. */
  turn(): Promise<Promotion> {
    if (!this.#turn) {
      let resolve!: (p: Promotion) => void;
      const promise = new Promise<Promotion>((r) => {
        resolve = r;
      });
      this.#turn = { resolve, promise };
    }
    return this.#turn.promise;
  }

  promote(promotion: Promotion): void {
    this.turn();
    this.#turn!.resolve(promotion);
  }

  wake(): void {
    if (this.#wake) this.#wake();
    else this.#wakePending = true;
  }

  /** Sleeps `ms`, or less if woken. The caller races it against its interrupt. */
  nap(ms: number): Promise<void> {
    if (this.#wakePending) {
      this.#wakePending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = (): void => done();
      this.#wake = wake;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      this.#wake = undefined;
    });
  }

  /** Drops a pending nap's timer when the waiter is interrupted. */
  cancelNap(): void {
    this.#wake?.();
  }
}

/** The local FIFO of waiters for one key, plus the key's backend watch while anyone waits. */
export class KeyQueue {
  readonly waiters: Waiter[] = [];
  #watch: Promise<WatchHandle> | undefined;
  /** The watch is subscribed (its promise settled successfully). */
  #live = false;
  #closed = false;

  constructor(
    readonly key: string,
    private readonly backend: LockBackend,
    /**
     * Whether this client holds the key right now. A release event heard then is stale (the
     * echo of our own release, whose waiter was woken already) or moot (the key is ours): waking
     * the head would only buy a refused attempt. Were our lease already gone on the server
     * without our knowing, the head still re-checks when that lease's TTL would have run out.
     */
    private readonly heldHere: () => boolean,
  ) {}

  get head(): Waiter | undefined {
    return this.waiters[0];
  }

  /** Joins at the back; becomes head at once when the queue was empty and the head is free. */
  join(waiter: Waiter, headFree: boolean): void {
    this.waiters.push(waiter);
    if (this.waiters.length === 1 && headFree) waiter.promote('try');
  }

  /** Joins at the front: the waiter already held the head while it made its first attempt. */
  takeHead(waiter: Waiter): void {
    this.waiters.unshift(waiter);
  }

  /** A released claim on the head passes to the first waiter. */
  promoteHead(promotion: Promotion): void {
    this.waiters[0]?.promote(promotion);
  }

  /** Leaves the queue; if the waiter was the head, the next one takes over. */
  leave(waiter: Waiter, promotion: Promotion): void {
    const index = this.waiters.indexOf(waiter);
    if (index === -1) return;
    this.waiters.splice(index, 1);
    if (index === 0) this.waiters[0]?.promote(promotion);
  }

  /**
   * Subscribes to the key's release events once; resolves when the subscription is live, with
   * `true` if the caller had to wait for it: a release published before then was not heard, so
   * the caller must ask the backend once more rather than trust what it knew before.
   */
  async ensureWatch(): Promise<boolean> {
    if (this.#live) return false;
    if (!this.#watch) {
      const watching = this.backend.watch!(this.key, () => {
        if (!this.heldHere()) this.head?.wake();
      });
      this.#watch = watching;
      watching.then(
        () => {
          if (this.#watch === watching) this.#live = true;
        },
        () => {
          // A failed subscription is not cached: the next waiter tries again.
          if (this.#watch === watching) this.#watch = undefined;
        },
      );
    }
    await this.#watch;
    return true;
  }

  /** Ends the watch; called when the queue empties or the client closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const watching = this.#watch;
    this.#watch = undefined;
    this.#live = false;
    if (watching)
      await watching.then(
        (handle) => handle.close(),
        () => {},
      );
  }
}
