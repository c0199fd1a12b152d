import { createHash } from 'node:crypto';
import { LockClosedError } from '@dlock/lock-core';
import {
  type AcquireRequest,
  type BackendCapabilities,
  type LockBackend,
  type LockState,
  type OwnerRef,
  type ReleaseResult,
  SPECIFICATION_VERSION,
  type WatchHandle,
} from '@dlock/lock-core/spi';
import { createAcquireMany, MAX_MANY_KEYS } from './acquire-many.js';
import { CommandRunner } from './command-runner.js';
import { createElectionBackend } from './election/election-backend.js';
import { extendBatch } from './extend-batch.js';
import { createFairLock } from './fair/fair-lock.js';
import { listHolds } from './list.js';
import { type RedisBackendOptions, resolveOptions } from './options.js';
import { ReleaseSubscriber } from './release-subscriber.js';
import { awaitReplicas as awaitReplicaCopies } from './replica-wait.js';
import { ACQUIRE_COMMAND, decodeAcquireReply } from './scripts/acquire.js';
import { EXTEND_COMMAND } from './scripts/extend.js';
import { FORCE_RELEASE_COMMAND } from './scripts/force-release.js';
import { decodeHandOverReply, HAND_OVER_COMMAND } from './scripts/hand-over.js';
import { defineScripts } from './scripts/index.js';
import { decodeInspectReply, INSPECT_COMMAND } from './scripts/inspect.js';
import { PURGE_COMMAND } from './scripts/purge.js';
import { decodeReleaseReply, RELEASE_COMMAND } from './scripts/release.js';
import { createSharedBackend } from './shared-backend.js';

const CAPABILITIES: BackendCapabilities = Object.freeze({
  watch: true,
  nativeWait: false,
  ttlGranularityMs: 1,
  batchExtend: true,
  // Each script call is written to the key's one connection before the call returns, and Redis
  // runs one connection's commands in order: a waiter's acquire may follow a release unawaited.
  orderedRequests: true,
  list: true,
  // One script releases and grants to the next local waiter (scripts/hand-over.ts).
  handOver: true,
  // tryAcquireMany: one script per call (acquire-many.ts).
  maxManyKeys: MAX_MANY_KEYS,
});

/**
 * A `LockBackend` on Redis through ioredis: every state change is one Lua script, expiry is
 * Redis's own PX clock, and waiters wake on a per-key release channel.
 *
 * ```ts
 * const locks = createLockClient(redisBackend({ client: new Redis() }), { ttlMs: 30_000 });
 * ```
 */
export function redisBackend(options: RedisBackendOptions): LockBackend {
  return createRedisBackend(options, undefined);
}

/** @internal `onClose` closes a client the backend created itself (see `connectBackend`). */
export function createRedisBackend(
  options: RedisBackendOptions,
  onClose: (() => Promise<void>) | undefined,
): LockBackend {
  const resolved = resolveOptions(options);
  const { client, prefix, fencingRetentionMs: retention } = resolved;
  const scripts = defineScripts(client);
  const runner = new CommandRunner(client, resolved.commandTimeoutMs);
  const subscriber = new ReleaseSubscriber(client, resolved.commandTimeoutMs, resolved.pubsub);
  const publishSharded = ReleaseSubscriber.publishesSharded(client, resolved.pubsub) ? '1' : '0';
  // Fair mode: acquire, release, hand-over and abandon go through the waiter queue's scripts.
  const fair = resolved.fair
    ? createFairLock({
        client,
        runner,
        keysOf: (key) => lockKeys(prefix, key),
        subscriber,
        publishSharded,
        retention,
      })
    : undefined;
  let closed: Promise<void> | undefined;
  /** Every operation refuses once `close()` was called (the client stays the user's). */
  const open = (): void => {
    if (closed) throw new LockClosedError('The redis backend is closed');
  };
  /** What the shared keys, elections and several-keys scripts borrow from this backend. */
  const shared = { client, prefix, runner, subscriber, publishSharded, retention, open };
  const replicaContext = { client, runner, options: resolved };

  async function release(key: string, owner: string, operation: string): Promise<ReleaseResult> {
    open();
    if (fair) return fair.release({ key, owner }, operation);
    const k = lockKeys(prefix, key);
    return runner
      .run(operation, key, () =>
        scripts[RELEASE_COMMAND](k.lock, k.fence, k.wait, owner, k.channel, publishSharded),
      )
      .then(decodeReleaseReply);
  }

  /** `waitForReplicas` after a fresh grant: too few copies undo it (see replica-wait.ts). */
  function awaitReplicas(request: AcquireRequest, lock: string): Promise<void> {
    return awaitReplicaCopies(replicaContext, 'acquire', request.key, lock, () =>
      release(request.key, request.owner, 'acquire'),
    );
  }

  const extendArgs = ({ key, owner, ttlMs }: AcquireRequest) => {
    const k = lockKeys(prefix, key);
    return [k.lock, k.fence, k.wait, owner, ttlMs, retention];
  };

  async function extend(request: AcquireRequest): Promise<boolean> {
    open();
    const reply = await runner.run('extend', request.key, () =>
      scripts[EXTEND_COMMAND](...extendArgs(request)),
    );
    return Number(reply) === 1;
  }

  const backend: LockBackend = {
    specificationVersion: SPECIFICATION_VERSION,
    name: 'redis',
    capabilities: CAPABILITIES,

    async tryAcquire(request) {
      open();
      const k = lockKeys(prefix, request.key);
      const result = fair
        ? await fair.tryAcquire(request)
        : decodeAcquireReply(
            await runner.run('acquire', request.key, () =>
              scripts[ACQUIRE_COMMAND](
                k.lock,
                k.fence,
                k.wait,
                request.owner,
                request.ttlMs,
                retention,
              ),
            ),
          );
      // Only a fresh grant needs its copies counted: a re-entry's grant was checked when made.
      if (result.acquired && !result.reentered && resolved.waitForReplicas > 0) {
        await awaitReplicas(request, k.lock);
      }
      return result;
    },

    extend,

    async extendMany(requests) {
      open();
      return extendBatch(client, runner, EXTEND_COMMAND, requests, extendArgs, extend);
    },

    release(request: OwnerRef) {
      return release(request.key, request.owner, 'release');
    },

    async handOver(from, to, yieldToOthers) {
      open();
      const k = lockKeys(prefix, from.key);
      // Fair mode: the queue's order decides, so `yieldToOthers` has nothing left to do.
      const result = fair
        ? await fair.handOver(from, to)
        : decodeHandOverReply(
            await runner.run('handOver', from.key, () =>
              scripts[HAND_OVER_COMMAND](
                k.lock,
                k.fence,
                k.wait,
                from.owner,
                to.owner,
                to.ttlMs,
                retention,
                k.channel,
                publishSharded,
                yieldToOthers ? '1' : '0',
              ),
            ),
          );
      // The grant is counted like any fresh one (see tryAcquire); too few copies undo it.
      if (result.next.acquired && resolved.waitForReplicas > 0) await awaitReplicas(to, k.lock);
      return result;
    },

    async inspect(key): Promise<LockState | null> {
      open();
      const k = lockKeys(prefix, key);
      const hold = decodeInspectReply(
        await runner.run('inspect', key, () => scripts[INSPECT_COMMAND](k.lock, k.fence)),
      );
      return hold && { key, ...hold };
    },

    async forceRelease(key: string): Promise<boolean> {
      open();
      const k = lockKeys(prefix, key);
      const reply = await runner.run('forceRelease', key, () =>
        scripts[FORCE_RELEASE_COMMAND](
          k.lock,
          k.fence,
          k.wait,
          retention,
          k.channel,
          publishSharded,
        ),
      );
      return Number(reply) === 1;
    },

    list(request) {
      open();
      return listHolds({ client, prefix, runner, scripts }, request);
    },

    async purge(key: string): Promise<boolean> {
      open();
      const k = lockKeys(prefix, key);
      const reply = await runner.run('purge', key, () =>
        scripts[PURGE_COMMAND](k.lock, k.fence, k.wait),
      );
      return Number(reply) === 1;
    },

    watch(key: string, onRelease: () => void): Promise<WatchHandle> {
      // Fair mode: a release names the head it granted; only the head's own process wakes.
      if (fair) return fair.watch(key, onRelease);
      return subscriber.watch(lockKeys(prefix, key).channel, onRelease);
    },

    // Semaphores and read-write locks: their own names and scripts, the same client, command
    // runner and release subscriber (one subscriber connection for every primitive).
    shared: createSharedBackend({ ...shared, scripts }),

    // Leader elections: their own names and scripts (election/), on the same connections.
    election: createElectionBackend({ ...shared, replicas: replicaContext }),

    // Several mutex keys in one script per Cluster slot (acquire-many.ts).
    ...createAcquireMany({ ...shared, lockKeys, replicas: replicaContext, release }),

    close() {
      closed ??= (async () => {
        fair?.close();
        subscriber.close();
        await onClose?.();
      })();
      return closed;
    },

    // Fair mode only: a waiter that gives up leaves the queue (and passes on a grant made for it).
    ...(fair
      ? {
          abandon(request: OwnerRef) {
            open();
            return fair.abandon(request);
          },
        }
      : {}),
  };
  // Fair mode: no atomic several-keys grant (it would pass the keys' queues by); without
  // `tryAcquireMany` the core takes the keys one by one, each through its queue.
  if (fair) delete backend.tryAcquireMany;
  return backend;
}

// ---- the names that make up one lock ----

/** The Redis names that make up one lock. All four share one hash slot. */
export interface LockKeys {
  /** The owner (a string) or a hash {owner -> hold count} once re-entered; expires with the lease. */
  readonly lock: string;
  /** Fencing counter: the last token issued (see the acquire script); outlives the lock. */
  readonly fence: string;
  /** Pub/sub channel announcing that the lock was released. */
  readonly channel: string;
  /** Waiter flag: set while someone may wait for a release message (see the acquire script). */
  readonly wait: string;
}

/**
 * Derives the names for `key` under `prefix`.
 *
 * Redis Cluster hashes only the text between the first `{` and the next `}`. User keys may
 * contain braces, so the key itself can never be the tag: `a}b` would cut the tag short and
 * `{x}` keys of different locks would land together. Instead the tag is a hex digest of the key
 * (hex has no braces), and since the prefix is checked to be brace-free, our tag is always the
 * first one. The full key follows the tag verbatim, so distinct keys never share a name even if
 * two digests collide: a collision would only put two locks in the same slot. Twelve hex digits
 * (48 bits) keep the per-lock memory small while spreading keys evenly over the 16384 slots.
 */
export function lockKeys(prefix: string, key: string): LockKeys {
  let byKey = cache.get(prefix);
  if (!byKey) {
    byKey = new Map();
    cache.set(prefix, byKey);
  }
  let keys = byKey.get(key);
  if (!keys) {
    // Bounded: a workload cycling through many keys just starts over rather than growing.
    if (byKey.size >= CACHE_LIMIT) byKey.clear();
    keys = deriveKeys(prefix, key);
    byKey.set(key, keys);
  }
  return keys;
}

/**
 * Names are a pure function of prefix and key, and hot keys repeat on every acquire, release and
 * renewal: caching them saves a SHA-1 and four string builds per call.
 */
const cache = new Map<string, Map<string, LockKeys>>();
const CACHE_LIMIT = 4096;

function deriveKeys(prefix: string, key: string): LockKeys {
  const tag = createHash('sha1').update(key, 'utf8').digest('hex').slice(0, 12);
  const base = `${prefix}{${tag}}`;
  return {
    lock: `${base}:lock:${key}`,
    fence: `${base}:fence:${key}`,
    channel: `${base}:rel:${key}`,
    wait: `${base}:wait:${key}`,
  };
}
