import { IdGenClosedError, toBackendError } from './errors.js';
import type { RedisCounterClient } from './redis-client.js';
import { checkRedisClient, counterGiveBack, exactCounter } from './redis-client.js';
import { createSegmentBuffer, type SegmentGenerator } from './segment-buffer.js';
import { checkInteger, checkNonEmptyString } from './validate.js';

export interface RedisIncrOptions {
  /** An ioredis client or Cluster; left open by `close()`. */
  client: RedisCounterClient;
  /** The counter's key. */
  key: string;
  /**
   * Ids reserved per INCRBY. 1: one round trip per id. N: one round trip per N ids, in order
   * within this process; unused ids of a batch are skipped when the process stops.
   * @default 1
   */
  batch?: number;
}

/**
 * Ids from a Redis counter (INCR, or INCRBY `batch` to reserve several per round trip), as
 * bigint or decimal string, never as a lossy number.
 *
 * Persistence caveat: with RDB snapshots only, a Redis crash forgets the increments since the
 * last snapshot, and the restarted server re-issues those ids. Run the counter's Redis with
 * `appendonly yes` and `appendfsync always`, or use `redisSegment`/`mysqlSegment` with a durable
 * store. Replication is asynchronous too: a failover can lose recent increments the same way.
 */
export function redisIncr(options: RedisIncrOptions): SegmentGenerator {
  checkRedisClient(options?.client);
  const { client } = options;
  const key = checkNonEmptyString('key', options.key);
  const batch = checkInteger('batch', options.batch ?? 1, 1, 1_000_000_000);
  const counter = exactCounter(client, key);
  if (batch === 1) return perIdIncr(counter, key);
  return createSegmentBuffer({
    source: counter,
    giveBack: counterGiveBack(client, key),
    name: `redisIncr(${key})`,
    step: batch,
    maxStep: batch,
    segmentDurationMs: 1,
    clock: Date.now,
    adaptive: false,
    // Plain batching: a new reservation only when the current one is used up.
    prefetchRatio: null,
  });
}

/** One INCR per id; concurrent calls are pipelined by the client rather than queued here. */
function perIdIncr(counter: (by: number) => Promise<bigint>, key: string): SegmentGenerator {
  const name = `redisIncr(${key})`;
  let closed = false;
  let pending = 0;
  let drained: Promise<void> | undefined;
  let onDrained: (() => void) | undefined;
  async function nextId(): Promise<bigint> {
    if (closed) throw new IdGenClosedError(`${name} generator`);
    pending++;
    try {
      return await counter(1);
    } catch (error) {
      throw toBackendError(name, error);
    } finally {
      if (--pending === 0) onDrained?.();
    }
  }
  return {
    nextId,
    nextIdString: async () => (await nextId()).toString(),
    step: 1,
    async close() {
      closed = true;
      if (pending === 0) return;
      drained ??= new Promise<void>((resolve) => {
        onDrained = resolve;
      });
      await drained;
    },
  };
}
