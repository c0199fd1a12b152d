import type { LockBackend } from './backend.js';
import { LockQueueFullError } from './errors.js';
import { KeyQueue, type Promotion, type WaiterCount } from './key-queue.js';

/**
 * A client's local waiter queues, one per key while anyone waits for it, the claims on a key's
 * head by first attempts in flight (so later arrivals line up behind them), and the counts that
 * `maxWaiters` and `maxWaitersPerKey` bound.
 */
export class WaiterQueues {
  readonly #queues = new Map<string, KeyQueue>();
  /** Keys whose first attempt is in flight (see `reserveHead`). */
  readonly #reservedHeads = new Set<string>();
  /** Waiters of this client: queued ones (kept by the queues) plus native waits in flight. */
  readonly #count: WaiterCount = { waiters: 0 };
  /** Native waits in flight, per key (they wait on the server, not in a local queue). */
  readonly #native = new Map<string, number>();

  constructor(
    private readonly backend: LockBackend,
    /** Whether a lease of the client holds `key` (a release event then is stale: see KeyQueue). */
    private readonly heldHere: (key: string) => boolean,
    /** The client's `maxWaiters`: waiters across all its keys. */
    private readonly maxWaiters: number = Number.POSITIVE_INFINITY,
  ) {}

  /** Waiters of this client, across keys. */
  get waiters(): number {
    return this.#count.waiters;
  }

  /**
   * Fails fast, before any I/O, when the call would wait beyond a bound: the key's `maxPerKey`
   * (a first attempt in flight counts, as the first in line, so the key's bound holds exactly),
   * or the client's `maxWaiters` when the call would queue at once behind others of the key (or
   * waits natively). A call that finds nobody ahead makes its first attempt; if refused, it
   * meets the client's bound in `admitRefused` instead.
   */
  admit(key: string, maxPerKey: number, native: boolean): void {
    if (maxPerKey === Number.POSITIVE_INFINITY && this.maxWaiters === Number.POSITIVE_INFINITY)
      return;
    const onKey =
      (this.#queues.get(key)?.size ?? 0) +
      (this.#reservedHeads.has(key) ? 1 : 0) +
      (this.#native.get(key) ?? 0);
    if (onKey >= maxPerKey) throw new LockQueueFullError(key, 'key', maxPerKey);
    if ((native || onKey > 0) && this.#count.waiters >= this.maxWaiters)
      throw new LockQueueFullError(key, 'client', this.maxWaiters);
  }

  /**
   * A first attempt was refused and its caller is about to queue: fails if the client has as
   * many waiters as it allows (first attempts count only once refused).
   */
  admitRefused(key: string): void {
    if (this.#count.waiters >= this.maxWaiters)
      throw new LockQueueFullError(key, 'client', this.maxWaiters);
  }

  /** A native wait starts (admitted already). */
  nativeBegin(key: string): void {
    this.#native.set(key, (this.#native.get(key) ?? 0) + 1);
    this.#count.waiters++;
  }

  nativeEnd(key: string): void {
    const left = this.#native.get(key)! - 1;
    if (left === 0) this.#native.delete(key);
    else this.#native.set(key, left);
    this.#count.waiters--;
  }

  /** The key's queue, created on first use. */
  queueFor(key: string): KeyQueue {
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = new KeyQueue(key, this.backend, () => this.heldHere(key), this.#count);
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
    if (this.#reservedHeads.has(key) || (this.#queues.get(key)?.size ?? 0) > 0) return false;
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
    if (queue.size > 0 || this.#queues.get(queue.key) !== queue) return;
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
