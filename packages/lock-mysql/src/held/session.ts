import { monotonicNow } from '@dlock/lock-core';
import type { MysqlPoolConnection } from '../pool-types.js';

/**
 * One key held by this backend: the dedicated connection whose server lock it is, and the TTL
 * timer that ends that connection when the lease runs out without being extended, so an
 * abandoned handle cannot keep a connection-bound lock forever.
 */
export class Session {
  /** The connection is gone or going: the server lock is (being) released. */
  dead = false;
  #timer: NodeJS.Timeout | undefined;
  #dueAt = 0;
  readonly #onError = (): void => this.onConnectionLost(this);

  constructor(
    readonly key: string,
    readonly owner: string,
    readonly connection: MysqlPoolConnection,
    readonly connectionId: number,
    /** Called when the TTL timer fires: re-check the lease on the server. */
    private readonly onDue: (session: Session) => void,
    /** Called when the connection errors or closes under us (killed, network). */
    private readonly onConnectionLost: (session: Session) => void,
  ) {
    connection.on('error', this.#onError);
    connection.on('end', this.#onError);
  }

  /** Fire the TTL check `ms` from now, or keep a later one with `onlyLater`. */
  arm(ms: number, onlyLater = false): void {
    if (this.dead) return;
    const at = monotonicNow() + ms;
    if (onlyLater && at <= this.#dueAt) return;
    this.#dueAt = at;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    // A small margin so the server's expiry has passed when we look.
    this.#timer = setTimeout(() => this.onDue(this), ms + 2);
    // A held lock must not by itself keep the process alive.
    this.#timer.unref();
  }

  /** Stops the timer and the listeners; the caller then gives up or destroys the connection. */
  finish(): void {
    this.dead = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.connection.off?.('error', this.#onError);
    this.connection.off?.('end', this.#onError);
  }
}
