import { type Hold, Line } from './line.js';
import type { Session } from './session.js';
import type { Sweeper } from './sweeper.js';

/**
 * A backend's local lines by lock key, and the per-lock TTL it enforces on their holds. A lease
 * is shared by every lock of its TTL class, and one lock's renewal (or a queued waiter) keeps it
 * alive for all, so without these timers an abandoned lock (never extended, never released) would
 * outlive its TTL for as long as its neighbours on the lease are renewed.
 */
export class LineRegistry {
  readonly #lines = new Map<string, Line>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(private readonly sweeper: Sweeper) {}

  get(key: string): Line | undefined {
    return this.#lines.get(key);
  }

  /** The key's line, created on first use; `tidy` drops it again once idle. */
  line(key: string): Line {
    let line = this.#lines.get(key);
    if (!line) {
      line = new Line(key);
      this.#lines.set(key, line);
    }
    return line;
  }

  tidy(line: Line): void {
    if (line.idle && this.#lines.get(line.key) === line) this.#lines.delete(line.key);
  }

  /** (Re)arms the timer that deletes the key when the hold's TTL passes without an extend. */
  arm(line: Line, hold: Hold): void {
    if (hold.timer !== undefined) this.#clearTimer(hold.timer);
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        if (line.hold !== hold) return;
        this.drop(line, hold);
        void this.sweeper.withdraw(hold.etcdKey, hold.token, hold.session);
      },
      Math.min(2 ** 31 - 1, Math.max(0, hold.expiresAt - performance.now())),
    );
    timer.unref();
    hold.timer = timer;
    this.#timers.add(timer);
  }

  /** Forgets a hold locally and lets the next local waiter use the contender key. */
  drop(line: Line | undefined, hold: Hold): void {
    if (hold.timer !== undefined) this.#clearTimer(hold.timer);
    hold.timer = undefined;
    if (!line || line.hold !== hold) return;
    line.hold = undefined;
    line.promote();
    this.tidy(line);
  }

  /** Every lock on a lost session is lost: `extend()` now answers false for each of them. */
  dropSession(session: Session): void {
    for (const line of [...this.#lines.values()]) {
      if (line.hold?.session === session) this.drop(line, line.hold);
    }
  }

  /** Stops every TTL timer, for closing the backend: revoking its leases ends the keys. */
  stopTimers(): void {
    for (const line of this.#lines.values()) {
      if (line.hold?.timer !== undefined) this.#clearTimer(line.hold.timer);
    }
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #clearTimer(timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    this.#timers.delete(timer);
  }
}
