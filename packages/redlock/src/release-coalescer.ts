/**
 * One release is published on several nodes, so a watcher hears it up to n times within a few
 * milliseconds. The core wakes one local waiter per `onRelease`, so passing each copy on would
 * wake n waiters (or one waiter n times) for one free lock. This passes on the first copy of each
 * release and swallows the copies from other nodes that follow within `windowMs`.
 *
 * Copies are told apart from new releases by the message, never by timing alone: a node
 * publishes only where a waiter was refused since the last release (lock-redis's waiter flag), so
 * two releases in a row may be published on different sets of nodes, and "a node we have not
 * heard from yet" is then a new release, not a copy. The mutex release script publishes a digest
 * of the released owner, the same on every node for one release: a message is a copy when the
 * same message arrived from another node within the window. The same node sending the same
 * message again is a second release (an explicit owner taking the key again). A message without
 * an identity (`released`: shared keys, forced releases, older builds) or a resubscribe wake-up
 * (no message) is always passed on: a spurious wake-up costs the core one refused attempt, a
 * swallowed release could strand a waiter until its safety re-check.
 */
export class ReleaseCoalescer {
  /** Each identified message heard within the window: the nodes it came from, and when. */
  #recent = new Map<string, { readonly nodes: Set<number>; readonly at: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly onRelease: () => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A release message (`undefined`: a resubscribe wake-up) arrived from node `index`. */
  heard(index: number, message?: string): void {
    if (message === undefined || message === UNIDENTIFIED) {
      this.onRelease();
      return;
    }
    const now = this.now();
    // Lazily forgotten: no timer to clear, and the map holds a few entries at most.
    for (const [key, entry] of this.#recent) {
      if (now - entry.at > this.windowMs) this.#recent.delete(key);
    }
    const seen = this.#recent.get(message);
    if (seen && !seen.nodes.has(index)) {
      seen.nodes.add(index);
      return;
    }
    this.#recent.set(message, { nodes: new Set([index]), at: now });
    this.onRelease();
  }

  close(): void {
    this.#recent.clear();
  }
}

/** The message of publishers that carry no release identity. */
const UNIDENTIFIED = 'released';
