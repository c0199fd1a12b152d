import type { LockBackend } from './backend.js';
import { KeyQueue, type Promotion } from './key-queue.js';

/**
 * A client's local waiter queues, one per key while anyone waits for it, and the claims on a
 * key's head by first attempts in flight (so later arrivals line up behind them).
 */
export class WaiterQueues {
  readonly #queues = new Map<string, KeyQueue>();
  /** Keys whose first attempt is in flight (see `reserveHead`). */
  readonly #reservedHeads = new Set<string>();

  constructor(
    private readonly backend: LockBackend,
    /** Whether a lease of the client holds `key` (a release event then is stale: see KeyQueue). */
    private readonly heldHere: (key: string) => boolean,
  ) {}

  /** The key's queue, created on first use. */
  queueFor(key: string): KeyQueue {
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = new KeyQueue(key, this.backend, () => this.heldHere(key));
      this.#queues.set(key, queue);
    }
    return queue;
  }

  /**
   * The client freed `key`. Watching waiters hear the backend's event, polling ones would
   * otherwise sleep on; a release only sent so far (`sent`, on a backend that applies requests in
   * order) wakes either kind, to ask right behind it.
   */
  released(key: string, sent: boolean): void {
    const head = this.#queues.get(key)?.head;
    if (head && (sent || head.strategy === 'poll')) head.wake();
  }

  /**
   * Claims the head of the key's local queue for a first attempt, if nobody waits or holds it.
   * While claimed, later arrivals queue behind it instead of asking the backend themselves.
   */
  reserveHead(key: string): boolean {
    if (this.#reservedHeads.has(key) || (this.#queues.get(key)?.waiters.length ?? 0) > 0)
      return false;
    this.#reservedHeads.add(key);
    return true;
  }

  /** Whether a first attempt holds the key's head right now. */
  headReserved(key: string): boolean {
    return this.#reservedHeads.has(key);
  }

  /** Ends a claim; the first waiter, if any, takes over as `promotion` says (`null`: nobody). */
  releaseHead(key: string, promotion: Promotion | null): void {
    this.#reservedHeads.delete(key);
    if (promotion !== null) this.#queues.get(key)?.promoteHead(promotion);
  }

  dropQueueIfEmpty(queue: KeyQueue): void {
    if (queue.waiters.length > 0 || this.#queues.get(queue.key) !== queue) return;
    this.#queues.delete(queue.key);
    queue.close().catch(() => {});
  }

  /** Ends every queue's watch (the client is closing; its waiters are aborted by then). */
  closeAll(): Promise<unknown> {
    const queues = [...this.#queues.values()];
    this.#queues.clear();
    return Promise.allSettled(queues.map((queue) => queue.close()));
  }
}
