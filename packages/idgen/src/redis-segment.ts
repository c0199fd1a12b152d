import type { RedisCounterClient } from './redis-client.js';
import { checkRedisClient, counterGiveBack, exactCounter } from './redis-client.js';
import type { SegmentGenerator } from './segment-buffer.js';
import { type SegmentOptions, segmentGenerator } from './segment-generator.js';
import { checkNonEmptyString } from './validate.js';

export interface RedisSegmentOptions extends SegmentOptions {
  /** An ioredis client or Cluster; left open by `close()`. */
  client: RedisCounterClient;
  /** The counter's key: the largest id reserved so far by any process. */
  key: string;
}

/**
 * Leaf-style segment ids over a Redis counter: one INCRBY `step` per segment, the next segment
 * prefetched in the background at 10% use. The persistence caveat of `redisIncr` applies: only an
 * AOF-with-`appendfsync always` Redis is a durable enough store for ids that must never repeat.
 */
export function redisSegment(options: RedisSegmentOptions): SegmentGenerator {
  checkRedisClient(options?.client);
  const { client } = options;
  const key = checkNonEmptyString('key', options.key);
  return segmentGenerator(
    exactCounter(client, key),
    `redisSegment(${key})`,
    options,
    counterGiveBack(client, key),
  );
}
