import { LockClosedError } from '@dlock/lock-core';
import type { EtcdDriver } from './driver.js';
import { Session } from './session.js';

/**
 * Owns a backend's current session: opens it (at once, like etcd's concurrency.NewSession),
 * replaces it after it is lost, and revokes it on close.
 */
export class SessionKeeper {
  #session: Promise<Session> | undefined;
  #closed = false;

  constructor(
    private readonly driver: EtcdDriver,
    private readonly ttlMs: number,
    private readonly onLost: (session: Session) => void,
  ) {
    // A failure here is retried by the first call that needs a session.
    this.current().catch(() => {});
  }

  /** The live session, opening a new one if there is none or the last one was lost. */
  async current(): Promise<Session> {
    if (this.#closed) throw new LockClosedError();
    const pending = this.#session;
    if (pending) {
      const session = await pending.catch(() => undefined);
      if (session && !session.lost) return session;
      if (this.#session === pending) this.#session = undefined;
    }
    if (!this.#session) {
      const opening = this.#open();
      this.#session = opening;
      opening.catch(() => {
        if (this.#session === opening) this.#session = undefined;
      });
    }
    return this.#session;
  }

  /**
   * Revokes the current session: etcd deletes every key on it (held locks, queued waiters).
   * If the revoke fails, the keepalive is stopped anyway and the lease expires on its own.
   */
  close(): Promise<void> {
    this.#closed = true;
    const pending = this.#session;
    this.#session = undefined;
    return (
      pending?.then(
        (session) => session.lease.revoke().catch(() => session.lease.close()),
        () => {},
      ) ?? Promise.resolve()
    );
  }

  async #open(): Promise<Session> {
    const lease = await this.driver.openLease(this.ttlMs / 1000);
    if (this.#closed) {
      await lease.revoke().catch(() => lease.close());
      throw new LockClosedError();
    }
    return new Session(lease, (session) => {
      session.lease.close();
      this.onLost(session);
    });
  }
}
