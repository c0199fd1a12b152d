import type { RedisStandaloneLike } from '@dlock/lock-redis/internals';

/**
 * One Redlock node: an ioredis `Redis` connected to one independent master. Structural, like
 * lock-redis's client types, so any ioredis 5/6 client (or a wrapper with these methods) fits.
 * Not a `Cluster`: Redlock's nodes must fail independently, which a cluster's shards do not.
 */
export interface RedlockClientLike extends RedisStandaloneLike {
  /** Raises a lagging fencing counter after a grant (see `acquire.ts`). */
  incrby(key: string, increment: number | string): Promise<number>;
  /** Reads the node's uptime for `restartQuarantineMs`. */
  info(section: string): Promise<string>;
  on(event: 'ready' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'ready' | 'close', listener: () => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
}
