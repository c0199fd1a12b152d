import { createHash } from 'node:crypto';
import { LockBackendError, LockClosedError } from '@dlock/lock-core';
import {
  type AcquireRequest,
  type BackendCapabilities,
  type LockBackend,
  type LockState,
  type OwnerRef,
  type ReleaseResult,
  reported,
  SPECIFICATION_VERSION,
  type WatchHandle,
} from '@dlock/lock-core/spi';
import type { RedisPipelineLike } from './client-types.js';
import { CommandRunner } from './command-runner.js';
import { listHolds } from './list.js';
import { type RedisBackendOptions, resolveOptions } from './options.js';
import { ReleaseSubscriber } from './release-subscriber.js';
import { ACQUIRE_COMMAND, decodeAcquireReply } from './scripts/acquire.js';
import { EXTEND_COMMAND } from './scripts/extend.js';
import { FORCE_RELEASE_COMMAND } from './scripts/force-release.js';
import { defineScripts } from './scripts/index.js';
import { decodeInspectReply, INSPECT_COMMAND } from './scripts/inspect.js';
import { PURGE_COMMAND } from './scripts/purge.js';
import { decodeReleaseReply, RELEASE_COMMAND } from './scripts/release.js';

const CAPABILITIES: BackendCapabilities = Object.freeze({
  watch: true,
  nativeWait: false,
  ttlGranularityMs: 1,
  batchExtend: true,
  // Each script call is written to the key's one connection before the call returns, and Redis
  // runs one connection's commands in order: a waiter's acquire may follow a release unawaited.
  orderedRequests: true,
  list: true,
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
  let closed: Promise<void> | undefined;
  /** Every operation refuses once `close()` was called (the client stays the user's). */
  const open = (): void => {
    if (closed) throw new LockClosedError('The redis backend is closed');
  };

  async function release(key: string, owner: string, operation: string): Promise<ReleaseResult> {
    open();
    const k = lockKeys(prefix, key);
    return runner
      .run(operation, key, () =>
        scripts[RELEASE_COMMAND](k.lock, k.fence, k.wait, owner, k.channel, publishSharded),
      )
      .then(decodeReleaseReply);
  }

  /** WAIT on the connection that made the grant: the keyed PTTL routes a Cluster pipeline there. */
  async function awaitReplicas(request: AcquireRequest, lock: string): Promise<void> {
    const { waitForReplicas: wanted, waitForReplicasTimeoutMs: timeout } = resolved;
    let cause: unknown;
    try {
      const replies = await runner.run('acquire', request.key, () =>
        client.pipeline().pttl(lock).wait(wanted, timeout).exec(),
      );
      const [error, reply] = replies?.[1] ?? [new Error('WAIT: no reply'), 0];
      if (!error && Number(reply) >= wanted) return;
      cause =
        error ??
        new Error(
          `WAIT: ${Number(reply)} of ${wanted} replicas acknowledged the grant within ${timeout} ms`,
        );
    } catch (error) {
      cause = error;
    }
    // Too few copies: a failover now could hand the lock to a second owner. Undo the grant (best
    // effort: if Redis is unreachable the grant simply expires after its TTL).
    await release(request.key, request.owner, 'acquire').catch(
      reported('redis acquire: undo an under-replicated grant', request.key),
    );
    throw LockBackendError.isInstance(cause)
      ? cause
      : new LockBackendError('redis', 'acquire', cause, request.key);
  }

  async function extend(request: AcquireRequest): Promise<boolean> {
    open();
    const k = lockKeys(prefix, request.key);
    const reply = await runner.run('extend', request.key, () =>
      scripts[EXTEND_COMMAND](k.lock, k.fence, k.wait, request.owner, request.ttlMs, retention),
    );
    return Number(reply) === 1;
  }

  function extendPipeline(requests: readonly AcquireRequest[]): Promise<boolean[]> {
    return runner.run('extend', undefined, async () => {
      const pipeline = client.pipeline() as RedisPipelineLike &
        Record<string, (...args: unknown[]) => unknown>;
      for (const { key, owner, ttlMs } of requests) {
        const k = lockKeys(prefix, key);
        pipeline[EXTEND_COMMAND]!(k.lock, k.fence, k.wait, owner, ttlMs, retention);
      }
      const replies = (await pipeline.exec()) ?? [];
      return requests.map((_, i) => {
        const [error, reply] = replies[i] ?? [new Error('missing pipeline reply'), 0];
        // One failed command fails the batch: "not held" would wrongly declare the lock lost.
        if (error) throw error;
        return Number(reply) === 1;
      });
    });
  }

  return {
    specificationVersion: SPECIFICATION_VERSION,
    name: 'redis',
    capabilities: CAPABILITIES,

    async tryAcquire(request) {
      open();
      const k = lockKeys(prefix, request.key);
      const result = decodeAcquireReply(
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
      if (requests.length === 0) return [];
      if (!client.isCluster) return extendPipeline(requests);
      // A Cluster pipeline must stay within one slot; sent together, ioredis still writes these
      // back to back per node, so the batch costs about one round trip per node.
      return Promise.all(requests.map(extend));
    },

    release(request: OwnerRef) {
      return release(request.key, request.owner, 'release');
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
      return subscriber.watch(lockKeys(prefix, key).channel, onRelease);
    },

    close() {
      closed ??= (async () => {
        subscriber.close();
        await onClose?.();
      })();
      return closed;
    },
  };
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
