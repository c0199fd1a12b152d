/**
 * One release is published on every node, so a watcher hears it up to n times within a few
 * milliseconds. The core wakes one local waiter per `onRelease`, so passing each copy on would
 * wake n waiters for one free lock. This passes on the first copy of each release and swallows
 * the copies from the other nodes that follow within `windowMs`. A node that reports a second
 * time inside the window is announcing a second release (a node publishes once per release),
 * which is passed on at once. A copy that arrives after the window is passed on too: a spurious
 * wake-up costs the core one refused attempt, a swallowed release could strand a waiter until
 * its safety re-check.
 */
export class ReleaseCoalescer {
  #heard = new Set<number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly windowMs: number,
    private readonly onRelease: () => void,
  ) {}

  /** A release message (or a resubscribe wake-up) arrived from node `index`. */
  heard(index: number): void {
    if (this.#heard.size > 0 && !this.#heard.has(index)) {
      this.#heard.add(index);
      return;
    }
    this.#heard = new Set([index]);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#heard.clear();
      this.#timer = undefined;
    }, this.windowMs).unref();
    this.onRelease();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
