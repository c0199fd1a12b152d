import { setTimeout as sleep } from 'node:timers/promises';
import { LockBackendError, LockClosedError } from '@dlock/lock-core';
import type { WatchHandle } from '@dlock/lock-core/spi';
import {
  isClusterClient,
  type RedisClientLike,
  type RedisStandaloneLike,
  type RedisSubscriberLike,
  type SubscriberOverrides,
} from './client-types.js';
import { CommandRunner } from './command-runner.js';
import { keySlot } from './key-slot.js';

const noop = () => {};

/** How release messages travel: see `RedisBackendOptions.pubsub`. */
export type PubSubMode = 'auto' | 'sharded' | 'classic';

/**
 * Called with the message's text (`released`, or a fair lock's head digest: see
 * fair/fair-prelude.ts), or with none when messages may have been missed (a resubscribe).
 */
type ReleaseListener = (message?: string) => void;

interface ChannelWatch {
  readonly listeners: Set<ReleaseListener>;
  /** Settles when the channel's subscription was acknowledged. */
  ready: Promise<void>;
}

/** Route of the one connection used for classic pub/sub (standalone, or any cluster master). */
const ANY = '*';

/**
 * Wakes watchers when a key's release message arrives. It owns the subscriber connections: one per
 * backend, however many keys are watched, for standalone Redis and for classic pub/sub on a
 * Cluster (PUBLISH is broadcast to every node); with sharded pub/sub on a Cluster, where a
 * channel is only heard on the master owning its slot, one per master that has watched channels.
 *
 * Standalone/Sentinel: a `duplicate()` of the user's client that reconnects forever. Cluster: a
 * connection to a master that gives up after a few failed reconnects; its channels then move to
 * wherever the cluster now says they live, and their watchers are called once.
 */
export class ReleaseSubscriber {
  readonly #watches = new Map<string, ChannelWatch>();
  readonly #routes = new Map<string, ChannelConnection>();
  readonly #placed = new Map<string, ChannelConnection>();
  #sharded: Promise<boolean> | undefined;
  #nextNode = 0;
  #closed = false;

  readonly #source: RedisClientLike;
  readonly #timeoutMs: number;
  readonly #mode: PubSubMode;

  constructor(source: RedisClientLike, timeoutMs: number, mode: PubSubMode) {
    this.#source = source;
    this.#timeoutMs = timeoutMs;
    this.#mode = mode;
  }

  /** Whether releases are published with SPUBLISH: only on a Cluster, never on standalone. */
  static publishesSharded(client: RedisClientLike, mode: PubSubMode): boolean {
    return mode !== 'classic' && isClusterClient(client);
  }

  async watch(channel: string, onRelease: ReleaseListener): Promise<WatchHandle> {
    if (this.#closed) throw new LockClosedError('The redis backend is closed');
    // A wrapper per call, so the same callback registered twice gets two independent handles.
    const listener: ReleaseListener = (message) => onRelease(message);
    let entry = this.#watches.get(channel);
    if (entry === undefined) {
      entry = { listeners: new Set(), ready: Promise.resolve() };
      this.#watches.set(channel, entry);
      entry.ready = this.#place(channel);
    }
    entry.listeners.add(listener);
    let open = true;
    const handle: WatchHandle = {
      close: () => {
        if (!open) return;
        open = false;
        this.#unwatch(channel, listener);
      },
    };
    try {
      await entry.ready;
    } catch (error) {
      handle.close();
      throw error;
    }
    return handle;
  }

  /** Disconnects every subscriber connection. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#watches.clear();
    this.#placed.clear();
    for (const connection of this.#routes.values()) connection.close();
    this.#routes.clear();
  }

  #unwatch(channel: string, listener: ReleaseListener): void {
    const entry = this.#watches.get(channel);
    if (entry === undefined || !entry.listeners.delete(listener) || entry.listeners.size > 0)
      return;
    this.#watches.delete(channel);
    this.#placed.get(channel)?.remove(channel);
    this.#placed.delete(channel);
  }

  /** Subscribes `channel` on the connection that hears it; retries when that connection is lost. */
  async #place(channel: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.#closed || !this.#watches.has(channel)) return;
      const connection = await this.#connectionFor(channel);
      this.#placed.set(channel, connection);
      try {
        await connection.add(channel);
        // Unwatched while the SUBSCRIBE was in flight: do not leave the subscription behind.
        if (!this.#watches.has(channel)) connection.remove(channel);
        return;
      } catch (error) {
        if (this.#placed.get(channel) === connection) this.#placed.delete(channel);
        if (!connection.lost || attempt >= 3) throw error;
        await sleep(50 * attempt);
      }
    }
  }

  async #connectionFor(channel: string): Promise<ChannelConnection> {
    const sharded = await this.#isSharded();
    // close() may have run meanwhile: never open a connection nobody would close.
    if (this.#closed) throw new LockClosedError('The redis backend is closed');
    const route = sharded ? this.#ownerOf(channel) : ANY;
    let connection = this.#routes.get(route);
    if (connection === undefined) {
      connection = new ChannelConnection(route, this.#open(route), sharded, this.#timeoutMs, {
        onMessage: (c, message) => this.#notify(c, message),
        onRecovered: (channels) => {
          for (const c of channels) this.#notify(c);
        },
        onLost: (lost) => this.#relocate(lost),
      });
      this.#routes.set(route, connection);
    }
    return connection;
  }

  /**
   * `auto` uses sharded pub/sub on a Cluster whose servers have it (Redis 7.0+). The release
   * script makes the same choice on the server (it checks the server's version), so publisher
   * and subscriber agree as long as the cluster runs one version.
   *
   * On a Cluster the probe also serves as the wait for the client to be connected: ioredis holds
   * the INFO until it has loaded the slot map and knows the masters, which routing needs.
   */
  #isSharded(): Promise<boolean> {
    this.#sharded ??= (async () => {
      const cluster = this.#source;
      if (!isClusterClient(cluster)) return false;
      const info = await new CommandRunner(cluster, this.#timeoutMs).run('watch', undefined, () =>
        cluster.info('server'),
      );
      if (this.#mode !== 'auto') return this.#mode === 'sharded';
      const major = Number(/redis_version:(\d+)/.exec(String(info))?.[1] ?? 0);
      return major >= 7;
    })();
    const decided = this.#sharded;
    // A failed probe is retried by the next watch rather than remembered.
    decided.catch(() => {
      if (this.#sharded === decided) this.#sharded = undefined;
    });
    return decided;
  }

  #masters(): RedisStandaloneLike[] {
    if (!isClusterClient(this.#source)) return [];
    return this.#source.nodes('master');
  }

  #anyMaster(): RedisStandaloneLike {
    const masters = this.#masters();
    const node = masters[this.#nextNode++ % Math.max(masters.length, 1)];
    if (node === undefined) {
      throw new LockBackendError(
        'redis',
        'watch',
        new Error('the cluster has no known master yet'),
      );
    }
    return node;
  }

  /** `host:port` of the master owning the channel's slot, per the cluster client's slot map. */
  #ownerOf(channel: string): string {
    const slots = isClusterClient(this.#source) ? this.#source.slots : undefined;
    const owner = slots?.[keySlot(channel)]?.[0];
    if (owner === undefined) {
      throw new LockBackendError(
        'redis',
        'watch',
        new Error('the cluster slot map is not known yet'),
      );
    }
    return owner;
  }

  #open(route: string): RedisSubscriberLike {
    const base: SubscriberOverrides = {
      autoResubscribe: false,
      enableOfflineQueue: true,
      // ioredis writes SUBSCRIBE (a "loading"-safe command) straight away while the handshake is
      // still running; its ready-check INFO would then fail on a connection already in
      // subscriber mode. Subscribing is allowed while Redis loads, so no ready check is needed.
      enableReadyCheck: false,
      maxRetriesPerRequest: null,
      lazyConnect: false,
      connectionName: 'dlock-subscriber',
      // ioredis would prefix SSUBSCRIBE channels (Redis lists them as keys) but not the channel
      // the release script publishes to, which travels in ARGV.
      keyPrefix: '',
    };
    if (!isClusterClient(this.#source)) {
      return this.#source.duplicate({
        ...base,
        retryStrategy: (times) => Math.min(times * 50, 1_000),
      });
    }
    const node =
      route === ANY
        ? this.#anyMaster()
        : this.#masters().find((n) => `${n.options.host}:${n.options.port}` === route);
    if (node === undefined) {
      throw new LockBackendError('redis', 'watch', new Error(`no cluster master at ${route}`));
    }
    // Give up on a node after a few attempts so that `end` moves its channels elsewhere.
    return node.duplicate({ ...base, retryStrategy: (times) => (times > 3 ? null : times * 100) });
  }

  /** A connection is gone for good: put its channels where they live now, then wake watchers. */
  #relocate(lost: ChannelConnection): void {
    // Already handled: closed by us (backend close, or an earlier `moved`), then `end` followed.
    if (lost.lost) return;
    if (this.#routes.get(lost.route) === lost) this.#routes.delete(lost.route);
    lost.close();
    if (this.#closed) return;
    if (isClusterClient(this.#source)) this.#source.refreshSlotsCache?.();
    for (const channel of lost.channels) {
      if (this.#placed.get(channel) === lost) this.#placed.delete(channel);
      void this.#replace(channel);
    }
  }

  async #replace(channel: string): Promise<void> {
    for (
      let delay = 100;
      !this.#closed && this.#watches.has(channel);
      delay = Math.min(delay * 2, 2_000)
    ) {
      await sleep(delay);
      try {
        await this.#place(channel);
        break;
      } catch {
        // Keep trying while someone watches; the core's safety re-check covers the gap.
      }
    }
    this.#notify(channel);
  }

  #notify(channel: string, message?: string): void {
    const entry = this.#watches.get(channel);
    if (entry === undefined) return;
    for (const listener of [...entry.listeners]) {
      try {
        listener(message);
      } catch {
        // A watcher's exception must not stop the others from waking.
      }
    }
  }
}

// The connections the subscriber owns.

interface ChannelConnectionHooks {
  /** A release message arrived on `channel`. */
  onMessage(channel: string, message: string): void;
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
class ChannelConnection {
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
    connection.on(sharded ? 'smessage' : 'message', (channel, message) =>
      hooks.onMessage(channel, message),
    );
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
