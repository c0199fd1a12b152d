import { LockArgumentError } from '@dlock/lock-core';
import type { RedlockClientLike } from './client-types.js';

export interface RedlockBackendOptions {
  /**
   * One ioredis `Redis` client per independent Redis master (no replicas, not a Cluster): at
   * least 3, and an odd number is recommended (5 tolerates 2 failed nodes; 4 tolerates only 1,
   * like 3). The backend only borrows them: it never closes them and never changes their options.
   * For fast failure while a node is down, create them with `enableOfflineQueue: false` (see the
   * README).
   */
  clients: readonly RedlockClientLike[];
  /**
   * Prepended to every Redis key and channel, exactly like `@dlock/lock-redis`'s `prefix` (the key
   * layout is lock-redis's). Must not contain `{` or `}`.
   * @default 'dlock:'
   */
  prefix?: string;
  /**
   * Fraction of the TTL given up to clock drift between the nodes and this client: a grant is
   * valid for `ttl - elapsed - (ttl * driftFactor + 2 ms)`. Raise it if your servers' clocks may
   * run at different rates (virtual machines, no NTP slewing). Between 0 (inclusive) and 1.
   * @default 0.01
   */
  driftFactor?: number;
  /**
   * How long one node may take to answer one call, in milliseconds. A node that does not answer in
   * time counts as a failed vote, so a slow or unreachable node delays an attempt by at most this
   * long. Keep it small compared with the TTL (the validity loses at least this much whenever a
   * node is slow). Positive integer.
   * @default 50
   */
  nodeTimeoutMs?: number;
  /**
   * Deadline for subscribing to a node's release channel, in milliseconds. Waiters need a
   * majority of nodes subscribed; a node slower than this just does not wake them (the core's
   * safety re-check still does).
   * @default 2000
   */
  subscribeTimeoutMs?: number;
  /**
   * Enforces the delayed-restart rule: a node whose Redis server has been up for less than this
   * (it restarted, and without persistence forgot its grants) does not vote for new grants until
   * this long after its start. Set it to your longest TTL when the nodes run without `appendfsync
   * always`; every client must set it for it to protect anyone. `0` turns it off. See the README.
   * @default 0
   */
  restartQuarantineMs?: number;
  /**
   * How long a key's fencing counter is kept on each node after its lock was last held there, in
   * milliseconds, like `@dlock/lock-redis`'s option of the same name. Reclaiming counters does
   * not make tokens go back: every node floors a fresh token at its own time in microseconds, so
   * a key whose counters are gone restarts above its earlier tokens unless the clocks of the
   * granting nodes have meanwhile fallen behind the one that issued them (see the README).
   * `Infinity` keeps every counter forever.
   * @default 86_400_000 (one day)
   */
  fencingRetentionMs?: number;
}

/** Options after defaults and validation. */
export interface ResolvedOptions {
  readonly clients: readonly RedlockClientLike[];
  readonly prefix: string;
  readonly driftFactor: number;
  readonly nodeTimeoutMs: number;
  readonly subscribeTimeoutMs: number;
  readonly restartQuarantineMs: number;
  /** 0 means keep forever (the value lock-redis's scripts understand). */
  readonly fencingRetentionMs: number;
}

const MAX_TIMEOUT = 2 ** 31 - 1;

function timeout(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0 || value > MAX_TIMEOUT) {
    throw new LockArgumentError(
      `redlockBackend: ${name} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

function quarantine(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_TIMEOUT) {
    throw new LockArgumentError(
      `redlockBackend: restartQuarantineMs must be a non-negative integer, got ${String(value)}`,
    );
  }
  return value;
}

function retention(value: number): number {
  if (value === Number.POSITIVE_INFINITY) return 0;
  if (!Number.isInteger(value) || value <= 0 || value > Number.MAX_SAFE_INTEGER) {
    throw new LockArgumentError(
      `redlockBackend: fencingRetentionMs must be a positive integer or Infinity, got ${String(value)}`,
    );
  }
  return value;
}

function isClient(value: unknown): value is RedlockClientLike {
  const client = value as Partial<RedlockClientLike> | null | undefined;
  return (
    typeof client?.defineCommand === 'function' &&
    typeof client.duplicate === 'function' &&
    typeof client.incrby === 'function' &&
    typeof client.info === 'function' &&
    client.isCluster !== true
  );
}

/** Applies defaults and rejects bad options before any I/O. */
export function resolveOptions(options: RedlockBackendOptions): ResolvedOptions {
  const clients = options?.clients;
  if (!Array.isArray(clients) || clients.length < 3) {
    throw new LockArgumentError(
      'redlockBackend: `clients` must be an array of at least 3 ioredis clients, one per independent Redis master',
    );
  }
  if (!clients.every(isClient)) {
    throw new LockArgumentError(
      'redlockBackend: every entry of `clients` must be an ioredis Redis client (not a Cluster)',
    );
  }
  if (new Set(clients).size !== clients.length) {
    throw new LockArgumentError(
      'redlockBackend: `clients` contains the same client twice; each node needs its own client',
    );
  }
  const prefix = options.prefix ?? 'dlock:';
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new LockArgumentError(
      'redlockBackend: `prefix` must be a string without `{` or `}` (lock-redis adds its own hash tag)',
    );
  }
  const driftFactor = options.driftFactor ?? 0.01;
  if (typeof driftFactor !== 'number' || !(driftFactor >= 0 && driftFactor < 1)) {
    throw new LockArgumentError(
      `redlockBackend: driftFactor must be a number in [0, 1), got ${String(driftFactor)}`,
    );
  }
  return {
    clients: [...clients],
    prefix,
    driftFactor,
    nodeTimeoutMs: timeout('nodeTimeoutMs', options.nodeTimeoutMs ?? 50),
    subscribeTimeoutMs: timeout('subscribeTimeoutMs', options.subscribeTimeoutMs ?? 2_000),
    restartQuarantineMs: quarantine(options.restartQuarantineMs ?? 0),
    fencingRetentionMs: retention(options.fencingRetentionMs ?? 86_400_000),
  };
}
