import type { SessionLease } from './driver.js';

/**
 * One backend's session: the etcd lease every key of the backend is attached to, kept alive by
 * the driver's keepalive. Its loss (revoked, expired, unreachable for too long) means every key
 * on it is gone, so every lock held through it is lost and every waiter's place in a queue too.
 */
export class Session {
  #lost = false;
  readonly #listeners = new Set<() => void>();

  constructor(
    readonly lease: SessionLease,
    onLost: (session: Session, cause: unknown) => void,
  ) {
    lease.onLost((cause) => this.markLost(cause, onLost));
  }

  get lost(): boolean {
    return this.#lost;
  }

  markLost(cause: unknown, onLost?: (session: Session, cause: unknown) => void): void {
    if (this.#lost) return;
    this.#lost = true;
    onLost?.(this, cause);
    for (const listener of [...this.#listeners]) listener();
    this.#listeners.clear();
  }

  /** Calls `listener` once when the session is lost; returns the unsubscribe function. */
  whenLost(listener: () => void): () => void {
    if (this.#lost) {
      queueMicrotask(listener);
      return () => {};
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
