import type { EtcdDriver } from './driver.js';
import type { Session } from './session.js';

/** Retry delay for a contender key that must go. */
const RETRY_MS = 500;

/**
 * Deletes contender keys that must go (a withdrawn waiter, a refused attempt, an expired or
 * abandoned hold), retrying in the background until each is gone or its session is: a key left
 * behind on a live session would block its queue until the session ends.
 */
export class Sweeper {
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(private readonly driver: EtcdDriver) {}

  /** Resolves after the first attempt; never rejects. */
  async withdraw(key: string, createRevision: bigint, session: Session): Promise<void> {
    try {
      // Only that incarnation of the key: never a newer one the same session created since.
      await this.driver.deleteIfCreateRevision(key, createRevision);
    } catch {
      if (session.lost || this.#closed) return;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        void this.withdraw(key, createRevision, session);
      }, RETRY_MS);
      timer.unref();
      this.#timers.add(timer);
    }
  }

  /** Stops retrying (the session's revocation deletes what is left). */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
