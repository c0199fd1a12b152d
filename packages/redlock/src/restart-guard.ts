import type { RedlockClientLike } from './client-types.js';

/**
 * Enforces Redlock's delayed-restart rule on this client's side: a node that restarted less than
 * `quarantineMs` ago (by its `uptime_in_seconds`) may have forgotten grants that are still live,
 * so it must not vote for a new grant until they have all expired.
 *
 * The uptime is read whenever the connection becomes ready (first connect and every reconnect);
 * between a connection loss and that reading the node does not vote either, since it may have
 * restarted meanwhile. A reading that fails is retried at the next vote.
 */
export class RestartGuard {
  #verified = false;
  #blockedUntil = 0;
  #checking: Promise<void> | undefined;
  readonly #onClose = () => {
    this.#verified = false;
  };
  readonly #onReady = () => {
    this.#verified = false;
    void this.#check();
  };

  constructor(
    private readonly client: RedlockClientLike,
    private readonly quarantineMs: number,
    private readonly now: () => number,
  ) {
    client.on('close', this.#onClose);
    client.on('ready', this.#onReady);
    if (client.status === 'ready') void this.#check();
  }

  /** Why the node may not vote for a grant now, or `undefined` when it may. */
  refusal(): Error | undefined {
    if (!this.#verified) {
      if (this.client.status === 'ready') void this.#check();
      return new Error('uptime not verified yet since (re)connecting (restartQuarantineMs)');
    }
    const left = this.#blockedUntil - this.now();
    if (left > 0) {
      return new Error(
        `node restarted recently: kept out of the quorum for another ${Math.ceil(left)} ms (restartQuarantineMs)`,
      );
    }
    return undefined;
  }

  close(): void {
    this.client.off('close', this.#onClose);
    this.client.off('ready', this.#onReady);
  }

  #check(): Promise<void> {
    this.#checking ??= (async () => {
      try {
        const started = this.now();
        const info = await this.client.info('server');
        const uptime = /uptime_in_seconds:(\d+)/.exec(info)?.[1];
        if (uptime === undefined) return;
        // Whole seconds, rounded down by Redis: the node may be up to 1 s older than this says,
        // so the quarantine computed from it can only be too long, never too short.
        this.#blockedUntil = started + this.quarantineMs - Number(uptime) * 1000;
        this.#verified = true;
      } catch {
        // Unverified until a later vote or reconnect reads it.
      } finally {
        this.#checking = undefined;
      }
    })();
    return this.#checking;
  }
}
