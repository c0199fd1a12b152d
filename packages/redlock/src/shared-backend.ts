import type { SharedBackend, SharedCapabilities } from '@dlock/lock-core/spi';
import type { Quorum } from './quorum.js';
import { sharedAbandonOnQuorum } from './shared-abandon.js';
import { sharedAcquireOnQuorum } from './shared-acquire.js';
import { sharedExtendOnQuorum } from './shared-extend.js';
import { sharedExtendManyOnQuorum } from './shared-extend-many.js';
import { sharedForceReleaseOnQuorum } from './shared-force-release.js';
import { sharedInspectOnQuorum } from './shared-inspect.js';
import { sharedKeysOf } from './shared-keys.js';
import { sharedReleaseOnQuorum } from './shared-release.js';
import { watchChannelOnQuorum } from './watch.js';

const SHARED_CAPABILITIES: SharedCapabilities = Object.freeze({
  // Limit 2 over nodes A, B, C: three clients may each hold a majority (AB, BC, AC) of a free
  // permit. Limit 1 is the mutex: two majorities share a node, which grants only one of them.
  maxSemaphoreLimit: 1,
  readWrite: true,
  watch: true,
  nativeWait: false,
  batchExtend: true,
});

/**
 * Read-write locks and limit-1 semaphores over the Redlock quorum (the SPI's `SharedBackend`).
 *
 * Each node runs `@dlock/lock-redis`'s single-node shared scripts on its own copy of the key;
 * a lease is granted when a majority of nodes granted it within the validity
 * `ttl - elapsed - drift` (as the mutex), and an attempt that fails to gather a majority gives
 * back what the nodes granted before it returns.
 *
 * Why no strict FIFO. On one server a refused request takes its place in the key's waiter queue
 * and only the head may be granted. Per node, that does not combine with a quorum: with nodes A,
 * B, C and waiters W1, W2, W3 whose requests reached the nodes in different orders, W1 may be at
 * the head on A, W2 on B and W3 on C; each is granted on one node only, gives it back, and since
 * every waiter keeps renewing its entries the heads never change: nobody ever gets a majority (a
 * livelock). So the scripts run in their quorum mode (ARGV flag of the acquire script), which
 * gives what is safe over independent queues:
 *
 * - **Writer preference.** A waiting writer's queue entry stops new readers on that node (entries
 *   of writers sort first there). A writer refused by a majority has entries on that majority,
 *   which every later reader majority overlaps: readers cannot starve a writer. Re-entrant reads
 *   and a write holder's downgrade still pass, as the SPI asks.
 * - **No order among writers.** Writers race for the nodes as mutex waiters do; a split vote
 *   retries after a short random delay. So do limit-1 semaphore waiters (no queue needed: the
 *   lease is the mutex). No FIFO guarantee between two writers or two semaphore waiters.
 * - **Entries are kept only to block and to wake.** After a failed quorum a waiter releases what
 *   the granting nodes gave it and keeps its entries on the refusing nodes; a grant drops the
 *   entries left on the nodes that refused; `abandon` removes them everywhere. Each node's
 *   release announces (classic PUBLISH) when its queue's head now fits; the watch subscribes on
 *   every node and is live with a majority, so every counted release is heard.
 *
 * Fencing: the mutex's rule (tokens.ts and align-counters.ts): every write and
 * semaphore grant takes the largest of the majority's node counters and raises the counters
 * behind it, so tokens strictly increase across nodes and restarts under the conditions the
 * README states; a read carries the largest counter of its majority, which overlaps the majority
 * the last write raised, so it is at least that write's token.
 *
 * `inspect` is the majority view (a lease counts when a majority holds it). Every operation
 * rejects with LockClosedError once the backend is closed (`open`).
 */
export function createRedlockShared(
  q: Quorum,
  open: <T>(run: () => Promise<T>) => Promise<T>,
  /** The watch's coalescing window (copies of one release from different nodes). */
  windowMs: number,
): SharedBackend {
  return {
    capabilities: SHARED_CAPABILITIES,
    tryAcquire: (request) => open(() => sharedAcquireOnQuorum(q, request)),
    extend: (request) => open(() => sharedExtendOnQuorum(q, request)),
    extendMany: (requests) => open(() => sharedExtendManyOnQuorum(q, requests)),
    release: (request) => open(() => sharedReleaseOnQuorum(q, request)),
    abandon: (request) => open(() => sharedAbandonOnQuorum(q, request)),
    inspect: (family, key) => open(() => sharedInspectOnQuorum(q, family, key)),
    forceRelease: (family, key) => open(() => sharedForceReleaseOnQuorum(q, family, key)),
    watch: (family, key, onRelease) =>
      open(() =>
        watchChannelOnQuorum(q, key, sharedKeysOf(q, family, key).channel, onRelease, windowMs),
      ),
  };
}
