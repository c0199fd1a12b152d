export type { RedisCounterClient } from './redis-client.js';
export { type RedisIncrOptions, redisIncr } from './redis-incr.js';
export { type RedisSegmentOptions, redisSegment } from './redis-segment.js';
export type { SegmentGenerator } from './segment-buffer.js';
