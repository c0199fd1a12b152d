import { LockArgumentError } from '@dlock/lock-core';
import { durationMs, rejectUnknownOptions } from '@dlock/lock-core/spi';
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

const KNOWN_OPTIONS: ReadonlySet<keyof RedlockBackendOptions> = new Set([
  'clients',
  'prefix',
  'driftFactor',
  'nodeTimeoutMs',
  'subscribeTimeoutMs',
  'restartQuarantineMs',
  'fencingRetentionMs',
]);

/** `host:port` of an ioredis client, when it says (`client.options`); else `undefined`. */
function addressOf(client: RedlockClientLike): string | undefined {
  const { host, port } = (client as { options?: { host?: unknown; port?: unknown } }).options ?? {};
  if (typeof host !== 'string' || (typeof port !== 'number' && typeof port !== 'string')) {
    return undefined;
  }
  return nodeAddress(host, Number(port));
}

/** How two node addresses are compared: host names ignore case, IPv6 brackets are dropped. */
export function nodeAddress(host: string, port: number): string {
  return `${host.replace(/^\[(.*)\]$/, '$1').toLowerCase()}:${port}`;
}

/**
 * Refuses a node listed twice: it would cast two votes, so a "majority" could be fewer servers
 * than Redlock's safety argument needs (with 3 entries, 2 of them one server, that server alone
 * would grant every lock).
 */
export function refuseDuplicateNodes(addresses: readonly (string | undefined)[]): void {
  const seen = new Set<string>();
  for (const address of addresses) {
    if (address === undefined) continue;
    if (seen.has(address)) {
      throw new LockArgumentError(
        `redlockBackend: the node ${address} is listed twice; each entry must be a different Redis master (a repeated node would vote twice)`,
      );
    }
    seen.add(address);
  }
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
  rejectUnknownOptions('redlockBackend', options, KNOWN_OPTIONS);
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
  refuseDuplicateNodes(clients.map(addressOf));
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
    nodeTimeoutMs: durationMs('redlockBackend: nodeTimeoutMs', options.nodeTimeoutMs ?? 50),
    subscribeTimeoutMs: durationMs(
      'redlockBackend: subscribeTimeoutMs',
      options.subscribeTimeoutMs ?? 2_000,
    ),
    restartQuarantineMs: durationMs(
      'redlockBackend: restartQuarantineMs',
      options.restartQuarantineMs ?? 0,
      { min: 0 },
    ),
    fencingRetentionMs: retention(options.fencingRetentionMs ?? 86_400_000),
  };
}

/** Infinity keeps counters forever: 0 is the value lock-redis's scripts understand. */
function retention(value: number): number {
  const ms = durationMs('redlockBackend: fencingRetentionMs', value, {
    max: Number.MAX_SAFE_INTEGER,
    infinity: true,
  });
  return ms === Number.POSITIVE_INFINITY ? 0 : ms;
}
