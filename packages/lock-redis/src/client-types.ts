/**
 * Structural types for the parts of ioredis this adapter uses, so that any ioredis 5/6 `Redis`
 * or `Cluster` (or a wrapper with the same methods) fits without importing ioredis' classes.
 */

/** A listener for connection errors. */
export type ErrorListener = (error: Error) => void;

/** What the adapter calls on a pipeline (plus the script commands it defines on the client). */
export interface RedisPipelineLike {
  pttl(key: string): RedisPipelineLike;
  wait(replicas: number, timeoutMs: number): RedisPipelineLike;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

/** Connection options the adapter overrides on the subscriber connection it creates. */
export interface SubscriberOverrides {
  autoResubscribe?: boolean;
  enableOfflineQueue?: boolean;
  enableReadyCheck?: boolean;
  maxRetriesPerRequest?: number | null;
  lazyConnect?: boolean;
  connectionName?: string;
  keyPrefix?: string;
  retryStrategy?: (times: number) => number | null;
}

/** The subscriber connection: a dedicated ioredis `Redis` in subscriber mode. */
export interface RedisSubscriberLike {
  readonly status: string;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  ssubscribe(...channels: string[]): Promise<unknown>;
  sunsubscribe(...channels: string[]): Promise<unknown>;
  on(event: 'message' | 'smessage', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready' | 'close' | 'end' | 'moved', listener: () => void): unknown;
  on(event: 'error', listener: ErrorListener): unknown;
  off(event: 'error', listener: ErrorListener): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** Common to a standalone client and a cluster client. */
interface ScriptHostLike {
  readonly status: string;
  readonly isCluster: boolean;
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  pipeline(): RedisPipelineLike;
  on(event: 'error', listener: ErrorListener): unknown;
  off(event: 'error', listener: ErrorListener): unknown;
}

/** An ioredis `Redis` (standalone or Sentinel-managed). */
export interface RedisStandaloneLike extends ScriptHostLike {
  /** Where it connects: identifies a cluster master for sharded pub/sub. */
  readonly options: { readonly host?: string | undefined; readonly port?: number | undefined };
  duplicate(override?: SubscriberOverrides): RedisSubscriberLike;
}

/** An ioredis `Cluster`. Subscriber connections go to its master nodes. */
export interface RedisClusterLike extends ScriptHostLike {
  /** Sent once before the first watch: waits for the slot map and learns the server version. */
  info(section: string): Promise<string>;
  nodes(role?: 'master' | 'slave' | 'all'): RedisStandaloneLike[];
  /** Slot -> `host:port` of its master first: where a sharded channel must be subscribed. */
  readonly slots: ReadonlyArray<readonly string[] | undefined>;
  /** Asks ioredis to reload the slot map after a subscriber connection was lost or moved. */
  refreshSlotsCache?(): void;
}

/** The client passed to `redisBackend`: an ioredis `Redis` or `Cluster`. */
export type RedisClientLike = RedisStandaloneLike | RedisClusterLike;

/** Narrowing on ioredis' own `isCluster` flag. */
export function isClusterClient(client: RedisClientLike): client is RedisClusterLike {
  return client.isCluster === true && 'nodes' in client;
}
