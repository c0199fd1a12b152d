import type { LockBackend, WatchHandle } from '../backend.js';
import type { Attempt, Promotion, Waiter } from './line.js';

/** Without a TTL hint from the backend, a watching waiter re-checks at least this often. */
const FALLBACK_RECHECK_MS = 1_000;

/**
 * The `watch` strategy: the head of the key's line subscribes to the key's release events (one
 * subscription per key per client, kept while the line exists), asks once the subscription is
 * live, and sleeps until an event wakes it. The sleep is only the safety re-check, due when the
 * holder's lease would run out if it stopped renewing (plus a little jitter against herds of
 * other processes doing the same): a missed event cannot strand the waiter.
 *
 * `front`: the waiter held the head during its first attempt and was refused; it asks once more
 * after subscribing (a release between the refusal and the subscription would otherwise go
 * unnoticed until the re-check). Promoted after the previous head was granted, it waits for that
 * holder's release instead of asking right away.
 */
export async function watchTurn(
  waiter: Waiter,
  heldHere: (key: string) => boolean,
  promotion: Promotion,
  front: { readonly retryAfterMs: number | undefined } | undefined,
): Promise<Attempt> {
  const { host, p, interrupt, line } = waiter;
  // A release event heard while this client holds the key is stale (the echo of our own release,
  // whose waiter was woken already) or moot (the key is ours): waking the head would only buy a
  // refused attempt. Were our lease already gone on the server without our knowing, the head
  // still re-checks when that lease's TTL would have run out.
  line.watch ??= new KeyWatch(host.backend, p.key, () => {
    if (!heldHere(p.key)) line.wakeLeader();
  });
  let skipAsk = promotion !== 'try';
  let retryAfterMs = promotion === 'try' ? front?.retryAfterMs : promotion.heldForMs;
  for (;;) {
    if (await interrupt.race(line.watch.ensure())) skipAsk = false;
    if (!skipAsk) {
      const next = await waiter.attempt();
      if (next.result.acquired) return next;
      retryAfterMs = next.result.retryAfterMs;
    }
    skipAsk = false;
    const bound = retryAfterMs ?? FALLBACK_RECHECK_MS;
    await waiter.nap(Math.max(1, bound + 1 + Math.random() * Math.min(25, bound / 10)));
  }
}

/** A key's release subscription on the backend, for the waiters of one line. */
export class KeyWatch {
  #watch: Promise<WatchHandle> | undefined;
  /** The watch is subscribed (its promise settled successfully). */
  #live = false;
  #closed = false;

  constructor(
    private readonly backend: LockBackend,
    private readonly key: string,
    private readonly onRelease: () => void,
  ) {}

  /**
   * Subscribes once; resolves when the subscription is live, with `true` if the caller had to
   * wait for it: a release published before then was not heard, so the caller must ask the
   * backend once more rather than trust what it knew before.
   */
  async ensure(): Promise<boolean> {
    if (this.#live) return false;
    if (!this.#watch) {
      const watching = this.backend.watch!(this.key, this.onRelease);
      this.#watch = watching;
      watching.then(
        () => {
          if (this.#watch === watching) this.#live = true;
        },
        () => {
          // A failed subscription is not kept: the next attempt subscribes again.
          if (this.#watch === watching) this.#watch = undefined;
        },
      );
    }
    await this.#watch;
    return true;
  }

  /** Ends the subscription: the line emptied, or the client closes. */
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
