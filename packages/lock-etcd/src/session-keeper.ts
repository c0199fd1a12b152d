import { LockClosedError } from '@dlock/lock-core';
import type { EtcdDriver } from './driver.js';
import { reportError } from './report-error.js';
import { Session } from './session.js';

/**
 * A session about to lapse is renewed before new keys go on it; below this, a keep-alive sent
 * alongside the key's put could arrive after etcd expired the lease.
 */
const FRESH_MS = 500;

/**
 * A backend's sessions, one per lock TTL class (whole seconds): every lock and waiter with that
 * TTL shares one lease, so renewing N locks is one keep-alive, not N. Opens a class's session on
 * first use, replaces it once it is lost or has lapsed, and revokes them all on close.
 */
export class SessionKeeper {
  readonly #sessions = new Map<number, Promise<Session>>();
  readonly #open = new Set<Session>();
  #closed = false;

  constructor(
    private readonly driver: EtcdDriver,
    private readonly onLost: (session: Session) => void,
  ) {}

  /**
   * The live session for locks of `ttlMs` (whole seconds), opening a new one if there is none or
   * the last one was lost; renewed first if it is about to lapse.
   */
  async current(ttlMs: number): Promise<Session> {
    if (this.#closed) throw new LockClosedError();
    const pending = this.#sessions.get(ttlMs);
    if (pending) {
      const session = await pending.catch(() => undefined);
      if (session && !session.lost) {
        if (session.guaranteedUntil - performance.now() >= FRESH_MS) return session;
        const renewed = await session.refresh().then(
          () => true,
          () => false,
        );
        if (renewed && !session.lost) return session;
        // About to lapse and not renewable: leave it to expire with its keys; use a new one.
      }
      if (this.#sessions.get(ttlMs) === pending) this.#sessions.delete(ttlMs);
    }
    if (this.#closed) throw new LockClosedError();
    let opening = this.#sessions.get(ttlMs);
    if (!opening) {
      const granting = this.#grant(ttlMs);
      granting.catch(() => {
        if (this.#sessions.get(ttlMs) === granting) this.#sessions.delete(ttlMs);
      });
      this.#sessions.set(ttlMs, granting);
      opening = granting;
    }
    return opening;
  }

  /**
   * Revokes every session: etcd deletes every key on them (held locks, queued waiters). If a
   * revoke fails the lease expires on its own within its TTL, as nothing renews it any more.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const pending = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.allSettled(pending);
    const open = [...this.#open];
    this.#open.clear();
    await Promise.all(
      open.map((session) =>
        session.lost
          ? session.close()
          : session.revoke().catch((error: unknown) => reportError('lease revoke', error)),
      ),
    );
    this.driver.closeLeases();
  }

  async #grant(ttlMs: number): Promise<Session> {
    const sentAt = performance.now();
    const granted = await this.driver.grantLease(ttlMs / 1000);
    const session = new Session(this.driver, granted, sentAt, (lost) => {
      this.#open.delete(lost);
      this.onLost(lost);
    });
    this.#open.add(session);
    if (this.#closed) {
      this.#open.delete(session);
      await session.revoke().catch((error: unknown) => reportError('lease revoke', error));
      throw new LockClosedError();
    }
    return session;
  }
}
