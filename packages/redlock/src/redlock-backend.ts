import { LockClosedError } from '@dlock/lock-core';
import {
  type BackendCapabilities,
  type LockBackend,
  monotonicNow,
  SPECIFICATION_VERSION,
} from '@dlock/lock-core/spi';
import { acquireOnQuorum } from './acquire.js';
import { createRedlockElection } from './election/election-backend.js';
import { extendOnQuorum } from './extend.js';
import { extendManyOnQuorum } from './extend-many.js';
import { forceReleaseOnQuorum } from './force-release.js';
import { inspectOnQuorum } from './inspect.js';
import { listOnQuorum } from './list.js';
import { createNode } from './node.js';
import { type RedlockBackendOptions, resolveOptions } from './options.js';
import type { Quorum } from './quorum.js';
import { releaseOnQuorum } from './release.js';
import { createRedlockShared } from './shared-backend.js';
import { watchOnQuorum } from './watch.js';

const CAPABILITIES: BackendCapabilities = Object.freeze({
  watch: true,
  nativeWait: false,
  ttlGranularityMs: 1,
  batchExtend: true,
  // Every call is written to each node's one connection before it returns, and each node runs its
  // connection's commands in order: a local waiter's attempt may follow a release unawaited.
  orderedRequests: true,
  list: true,
});

/**
 * A `LockBackend` over 2N+1 independent Redis masters (Redlock): every operation runs
 * `@dlock/lock-redis`'s Lua scripts on all nodes at once, each bounded by `nodeTimeoutMs`, and
 * counts only when a majority agrees within the lock's validity. It keeps working while up to N
 * nodes are down or slow.
 *
 * ```ts
 * const nodes = ['redis://a:6379', 'redis://b:6379', 'redis://c:6379'].map(
 *   (url) => new Redis(url, { enableOfflineQueue: false }),
 * );
 * const locks = createLockClient(redlockBackend({ clients: nodes }), { ttlMs: 10_000 });
 * ```
 */
export function redlockBackend(options: RedlockBackendOptions): LockBackend {
  return createRedlockBackend(options, undefined);
}

/** @internal `onClose` closes clients the backend created itself (see `connectBackend`). */
export function createRedlockBackend(
  options: RedlockBackendOptions,
  onClose: (() => Promise<void>) | undefined,
): LockBackend {
  const resolved = resolveOptions(options);
  // The lease clock: a suspend of this machine counts against the validity, as it must.
  const now = monotonicNow;
  const nodes = resolved.clients.map((client, index) =>
    createNode(client, index, resolved.subscribeTimeoutMs, resolved.restartQuarantineMs, now),
  );
  const quorum: Quorum = {
    nodes,
    size: Math.floor(nodes.length / 2) + 1,
    prefix: resolved.prefix,
    driftFactor: resolved.driftFactor,
    nodeTimeoutMs: resolved.nodeTimeoutMs,
    fencingRetentionMs: resolved.fencingRetentionMs,
    now,
  };
  let closed: Promise<void> | undefined;
  /** Every operation refuses once `close()` was called (the clients stay the user's). */
  const open = <T>(run: () => Promise<T>): Promise<T> =>
    closed ? Promise.reject(new LockClosedError('The redlock backend is closed')) : run();
  return {
    specificationVersion: SPECIFICATION_VERSION,
    name: 'redlock',
    capabilities: CAPABILITIES,
    tryAcquire: (request) => open(() => acquireOnQuorum(quorum, request)),
    extend: (request) => open(() => extendOnQuorum(quorum, request)),
    extendMany: (requests) => open(() => extendManyOnQuorum(quorum, requests)),
    release: (request) => open(() => releaseOnQuorum(quorum, request)),
    inspect: (key) => open(() => inspectOnQuorum(quorum, key)),
    forceRelease: (key) => open(() => forceReleaseOnQuorum(quorum, key)),
    list: (request) => open(() => listOnQuorum(quorum, request)),
    // Copies of one release from different nodes arrive within about a node timeout of each other.
    watch: (key, onRelease) =>
      open(() => watchOnQuorum(quorum, key, onRelease, resolved.nodeTimeoutMs)),
    // Read-write locks and limit-1 semaphores (see shared-backend.ts).
    shared: createRedlockShared(quorum, open, resolved.nodeTimeoutMs),
    // Leader elections: no candidate queue (see election/election-backend.ts).
    election: createRedlockElection(quorum, open, resolved.nodeTimeoutMs),
    close() {
      closed ??= (async () => {
        for (const node of nodes) node.close();
        await onClose?.();
      })();
      return closed;
    },
  };
}
