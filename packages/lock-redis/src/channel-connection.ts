import type { RedisSubscriberLike } from './client-types.js';
import { CommandRunner } from './command-runner.js';

const noop = () => {};

export interface ChannelConnectionHooks {
  /** A release message arrived on `channel`. */
  onMessage(channel: string): void;
  /** The connection came back and resubscribed: these channels may have missed messages. */
  onRecovered(channels: readonly string[]): void;
  /** The connection is gone for good (gave up reconnecting, or its slot moved): re-route. */
  onLost(connection: ChannelConnection): void;
}

/**
 * One subscriber connection and the release channels subscribed on it, with classic
 * (SUBSCRIBE/`message`) or sharded (SSUBSCRIBE/`smessage`) pub/sub.
 *
 * Resubscription is ours, not ioredis' (`autoResubscribe: false` on the connection): only we know
 * when it has finished, and only then may waiters re-check. A release published while the
 * connection was down is lost, so after every resubscribe the channels' watchers are called.
 */
export class ChannelConnection {
  readonly channels = new Set<string>();
  /** Set once the connection was given up; its channels are being placed elsewhere. */
  lost = false;
  readonly #runner: CommandRunner;
  #dropped = false;

  readonly #connection: RedisSubscriberLike;
  readonly #sharded: boolean;
  readonly #hooks: ChannelConnectionHooks;

  constructor(
    readonly route: string,
    connection: RedisSubscriberLike,
    sharded: boolean,
    timeoutMs: number,
    hooks: ChannelConnectionHooks,
  ) {
    this.#connection = connection;
    this.#sharded = sharded;
    this.#hooks = hooks;
    this.#runner = new CommandRunner(connection, timeoutMs);
    connection.on('error', noop); // reported through pending calls; avoid ioredis' console noise
    connection.on(sharded ? 'smessage' : 'message', (channel) => hooks.onMessage(channel));
    connection.on('close', () => {
      this.#dropped = true;
    });
    connection.on('ready', () => {
      if (!this.#dropped || this.lost) return;
      this.#dropped = false;
      void this.#resubscribe();
    });
    connection.on('end', () => hooks.onLost(this));
    // ioredis reports an SSUBSCRIBE answered with MOVED only through this event.
    if (sharded) connection.on('moved', () => hooks.onLost(this));
  }

  /** Subscribes `channel`; resolves once the server acknowledged it. */
  async add(channel: string): Promise<void> {
    this.channels.add(channel);
    try {
      await this.#runner.run('watch', undefined, () => this.#subscribe([channel]));
    } catch (error) {
      this.channels.delete(channel);
      throw error;
    }
  }

  /** Unsubscribes `channel`, best effort: a stale subscription only causes harmless wake-ups. */
  remove(channel: string): void {
    if (!this.channels.delete(channel) || this.lost) return;
    const connection = this.#connection;
    (this.#sharded ? connection.sunsubscribe(channel) : connection.unsubscribe(channel)).catch(
      noop,
    );
  }

  /** Disconnects: the connection is ours alone, so there is nothing to wait for. */
  close(): void {
    this.lost = true;
    this.#connection.disconnect();
  }

  #subscribe(channels: string[]): Promise<unknown> {
    return this.#sharded
      ? this.#connection.ssubscribe(...channels)
      : this.#connection.subscribe(...channels);
  }

  async #resubscribe(): Promise<void> {
    const channels = [...this.channels];
    try {
      // SSUBSCRIBE takes channels of one slot per call; SUBSCRIBE takes them in batches.
      const batches = this.#sharded
        ? channels.map((c) => [c])
        : Array.from({ length: Math.ceil(channels.length / 1_000) }, (_, i) =>
            channels.slice(i * 1_000, (i + 1) * 1_000),
          );
      await Promise.all(
        batches.map((batch) => this.#runner.run('watch', undefined, () => this.#subscribe(batch))),
      );
    } catch {
      // Dropped again: its next `ready` retries. Waiters still re-check below, and the core's
      // safety timer covers them in between.
    }
    this.#hooks.onRecovered(channels);
  }
}
