import { monotonicNow, type WatchHandle } from '@dlock/lock-core/spi';
import type { ReleaseSubscriber } from '../release-subscriber.js';
import type { QueuedOwners } from './queued-owners.js';

/** How long a key's subscription outlives its last watcher: a busy key's next wait reuses it. */
const LINGER_MS = 2_000;

interface KeyWatches {
  readonly listeners: Set<() => void>;
  ready: Promise<WatchHandle>;
  /**
   * Lease-clock time since which every release message of the key has been heard (`Infinity`
   * until subscribed): a refusal sent after it cannot have missed a grant's message.
   */
  heardSince: number;
  linger: NodeJS.Timeout | undefined;
}

/**
 * The fair backend's watches: one subscription per key, kept for a moment after the core's
 * last watch of the key ends. Under a steady queue every process's line empties after each of
 * its grants and fills again at its next call: without this, each section would cost a
 * SUBSCRIBE, an UNSUBSCRIBE and the core's ask after the new subscription went live (see
 * `heardSince` and `QueuedOwners.stillRefused`). Messages are read here first: a grant for one
 * of this process's owners is recorded even while no watcher is there, and only messages that
 * concern this process wake its watchers.
 */
export class FairWatches {
  readonly #byKey = new Map<string, KeyWatches>();
  #closed = false;

  constructor(
    private readonly subscriber: ReleaseSubscriber,
    private readonly queued: QueuedOwners,
  ) {}

  async watch(key: string, channel: string, onRelease: () => void): Promise<WatchHandle> {
    let entry = this.#byKey.get(key);
    if (!entry) {
      const created: KeyWatches = {
        listeners: new Set(),
        ready: Promise.resolve({ close() {} }),
        heardSince: Number.POSITIVE_INFINITY,
        linger: undefined,
      };
      created.ready = this.subscriber.watch(channel, (message) => {
        const kind = this.queued.hear(key, message);
        // Not a grant (a force-release's message, or none after a resubscribe): messages may
        // have been missed, so every waiter asks the server again.
        if (kind === 'plain') created.heardSince = monotonicNow();
        if (kind !== 'theirs') for (const listener of [...created.listeners]) listener();
      });
      created.ready.then(
        () => {
          created.heardSince = Math.min(created.heardSince, monotonicNow());
        },
        () => {
          if (this.#byKey.get(key) === created) this.#byKey.delete(key);
        },
      );
      entry = created;
      this.#byKey.set(key, entry);
    }
    clearTimeout(entry.linger);
    entry.linger = undefined;
    const listener = () => onRelease();
    entry.listeners.add(listener);
    const watching = entry;
    try {
      await watching.ready;
    } catch (error) {
      watching.listeners.delete(listener);
      throw error;
    }
    return {
      close: () => {
        if (!watching.listeners.delete(listener) || watching.listeners.size > 0) return;
        if (this.#closed) return;
        watching.linger = setTimeout(() => this.#end(key, watching), LINGER_MS);
        watching.linger.unref();
      },
    };
  }

  /** Since when every message of `key` has been heard (`Infinity`: not subscribed). */
  heardSince(key: string): number {
    return this.#byKey.get(key)?.heardSince ?? Number.POSITIVE_INFINITY;
  }

  /** The backend closes (the subscriber ends every subscription itself). */
  close(): void {
    this.#closed = true;
    for (const entry of this.#byKey.values()) clearTimeout(entry.linger);
    this.#byKey.clear();
  }

  #end(key: string, entry: KeyWatches): void {
    if (this.#byKey.get(key) !== entry || entry.listeners.size > 0) return;
    this.#byKey.delete(key);
    entry.ready.then(
      (handle) => handle.close(),
      () => {},
    );
  }
}
