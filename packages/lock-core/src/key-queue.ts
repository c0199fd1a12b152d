import type { LockBackend, WatchHandle } from './backend.js';
import type { Interrupt } from './interrupt.js';

/** Why a waiter became the head of its queue. */
export type Promotion =
  /** First in line on arrival, or the previous head gave up: try at once. */
  | 'try'
  /** The previous head just got the lock: wait for its release instead of asking right away. */
  | { readonly heldForMs: number };

/**
 * One local waiter. Only the head of a key's queue talks to the backend; the rest wait for their
 * turn, so a release wakes one waiter of this client instead of all of them, and 64 waiters cost
 * the server what one does. A waiter is its own node in its queue's doubly linked list, so
 * joining and leaving (from anywhere in the line, on abort or timeout) are O(1).
 */
export class Waiter {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  /** In its queue's list right now. */
  queued = false;
  #promoted = false;
  #napTimer: NodeJS.Timeout | undefined = undefined;
  #endNap: (() => void) | undefined = undefined;
  /** A release event that arrived while this waiter was busy asking: the next nap returns at once. */
  #wakePending = false;

  constructor(readonly strategy: 'watch' | 'poll') {}

  /** This waiter became the head of the queue; later promotions are moot. */
  promote(promotion: Promotion): void {
    if (this.#promoted) return;
    this.#promoted = true;
    this.began(promotion);
  }

  /** What a waiter does on becoming the head: see the queued call in acquire.ts. */
  protected began(_promotion: Promotion): void {}

  wake(): void {
    if (this.#endNap) this.cancelNap();
    else this.#wakePending = true;
  }

  /** Sleeps `ms`, or less if woken; rejects if `interrupt` fires first. */
  nap(ms: number, interrupt: Interrupt): Promise<void> {
    if (this.#wakePending) {
      this.#wakePending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.#endNap = resolve;
      this.#napTimer = setTimeout(endNap, ms, this);
      interrupt.arm(reject);
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

/** How many waiters a client has queued, across its keys (for `maxWaiters`). */
export interface WaiterCount {
  waiters: number;
}

/** The local FIFO of waiters for one key, plus the key's backend watch while anyone waits. */
export class KeyQueue {
  #first: Waiter | undefined = undefined;
  #last: Waiter | undefined = undefined;
  /** Waiters in the queue. */
  size = 0;
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
    /** The client's count of queued waiters, kept by every queue of the client. */
    private readonly count: WaiterCount,
  ) {}

  get head(): Waiter | undefined {
    return this.#first;
  }

  /** Joins at the back; becomes head at once when the queue was empty and the head is free. */
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

  /** A released claim on the head passes to the first waiter. */
  promoteHead(promotion: Promotion): void {
    this.#first?.promote(promotion);
  }

  /** Leaves the queue; if the waiter was the head, the next one takes over. */
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
