import { LockArgumentError } from '@dlock/lock-core';
import { durationMs, nonNegativeInt, rejectUnknownOptions } from '@dlock/lock-core/spi';
import type { RedisClientLike } from './client-types.js';
import type { PubSubMode } from './release-subscriber.js';

export interface RedisBackendOptions {
  /**
   * Your ioredis `Redis` (standalone or Sentinel) or `Cluster`. The backend only borrows it: it
   * never closes it and never changes its options. It registers its five script commands on
   * it (`dlockAcquireV3`, `dlock*V2`, via `defineCommand`).
   */
  client: RedisClientLike;
  /**
   * Prepended to every Redis key and channel the backend uses. Must not contain `{` or `}`: the
   * backend puts its own hash tag right after it (see the README).
   * @default 'dlock:'
   */
  prefix?: string;
  /**
   * Deadline for each of the backend's own Redis calls, in milliseconds. While the connection is
   * down, calls fail as soon as ioredis reports the connection error; this bounds the rest (a
   * connection lost mid-command). `Infinity` disables it.
   * @default 5000
   */
  commandTimeoutMs?: number;
  /**
   * After a fresh grant, run `WAIT waitForReplicas waitForReplicasTimeoutMs` and treat fewer
   * acknowledgements as a failed acquire (the grant is released again and the acquire rejects
   * with `LockBackendError`). Narrows, but does not close, the failover hole of asynchronous
   * replication: see the README. `0` skips WAIT.
   * @default 0
   */
  waitForReplicas?: number;
  /**
   * How long `WAIT` may block for the replicas' acknowledgements, in milliseconds.
   * @default 100
   */
  waitForReplicasTimeoutMs?: number;
  /**
   * How long a key's fencing counter is kept after its lock was last held, in milliseconds (it
   * never expires while the lock exists). Reclaiming a counter does not make tokens repeat: a
   * fresh token is never below the server's time in microseconds, so a key whose counter is gone
   * restarts above every earlier token, unless the server's clock has meanwhile stepped back by
   * more than the time since that key's last grant (at least this retention). `Infinity` keeps
   * every counter forever, which also rides out any clock step.
   * @default 86_400_000 (one day)
   */
  fencingRetentionMs?: number;
  /**
   * How release messages travel on a Cluster. `sharded`: SPUBLISH/SSUBSCRIBE, heard only on the
   * master owning the key's slot (no cluster-wide broadcast; one subscriber connection per master
   * with watched keys). `classic`: PUBLISH/SUBSCRIBE, broadcast over the cluster bus to every
   * node (one subscriber connection). `auto`: `sharded` when the servers run Redis 7.0 or later.
   * Standalone and Sentinel always use classic pub/sub.
   * @default 'auto'
   */
  pubsub?: PubSubMode;
  /**
   * Fair mode: locks are granted in arrival order across processes. A waiting call that is
   * refused takes a place in a queue kept on the server beside the lock (with a waiter lease on
   * the server's clock, renewed by the waiter's re-checks); a release passes the lock straight to
   * the queue's head and wakes only that head's process, and no call, `tryAcquire` included, is
   * granted past a live waiter. A waiter that dies delays the queue by at most one waiter lease
   * (its `ttlMs`). Within one process the client's own line keeps arrival order, and its head
   * stands in the server's queue for the process. Every client of a key must agree on this
   * option: a client without it ignores the queue. It buys order, not speed (see the README's
   * fair-mode figures: off by default for both reasons); `tryAcquireAll` then takes the keys
   * one by one, each through its queue.
   * @default false
   */
  fair?: boolean;
}

/** Options after defaults and validation. */
export interface ResolvedOptions {
  readonly client: RedisClientLike;
  readonly prefix: string;
  readonly commandTimeoutMs: number;
  readonly waitForReplicas: number;
  readonly waitForReplicasTimeoutMs: number;
  /** 0 means keep forever (the value the Lua scripts understand). */
  readonly fencingRetentionMs: number;
  readonly pubsub: PubSubMode;
  readonly fair: boolean;
}

/** One day: far beyond any lock's life and any ordinary clock correction (see the option). */
export const DEFAULT_FENCING_RETENTION_MS = 86_400_000;

const KNOWN_OPTIONS: ReadonlySet<keyof RedisBackendOptions> = new Set([
  'client',
  'prefix',
  'commandTimeoutMs',
  'waitForReplicas',
  'waitForReplicasTimeoutMs',
  'fencingRetentionMs',
  'pubsub',
  'fair',
]);

/** Applies defaults and rejects bad options before any I/O. */
export function resolveOptions(options: RedisBackendOptions): ResolvedOptions {
  rejectUnknownOptions('redisBackend', options, KNOWN_OPTIONS);
  const client = options?.client as RedisClientLike | undefined;
  if (client === undefined || client === null || typeof client.defineCommand !== 'function') {
    throw new LockArgumentError(
      'redisBackend: `client` must be an ioredis Redis or Cluster instance',
    );
  }
  const prefix = options.prefix ?? 'dlock:';
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new LockArgumentError(
      'redisBackend: `prefix` must be a string without `{` or `}` (the backend adds its own hash tag)',
    );
  }
  const replicas = nonNegativeInt('redisBackend: waitForReplicas', options.waitForReplicas ?? 0);
  const retention = durationMs(
    'redisBackend: fencingRetentionMs',
    options.fencingRetentionMs ?? DEFAULT_FENCING_RETENTION_MS,
    { max: Number.MAX_SAFE_INTEGER, infinity: true },
  );
  const pubsub = options.pubsub ?? 'auto';
  if (pubsub !== 'auto' && pubsub !== 'sharded' && pubsub !== 'classic') {
    throw new LockArgumentError(
      `redisBackend: pubsub must be 'auto', 'sharded' or 'classic', got ${String(pubsub)}`,
    );
  }
  const fair = options.fair ?? false;
  if (typeof fair !== 'boolean') {
    throw new LockArgumentError(`redisBackend: fair must be a boolean, got ${String(fair)}`);
  }
  return {
    client,
    prefix,
    pubsub,
    fair,
    commandTimeoutMs: durationMs(
      'redisBackend: commandTimeoutMs',
      options.commandTimeoutMs ?? 5_000,
      {
        infinity: true,
      },
    ),
    waitForReplicas: replicas,
    waitForReplicasTimeoutMs: durationMs(
      'redisBackend: waitForReplicasTimeoutMs',
      options.waitForReplicasTimeoutMs ?? 100,
    ),
    fencingRetentionMs: retention === Number.POSITIVE_INFINITY ? 0 : retention,
  };
}
