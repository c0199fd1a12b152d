export type {
  RedisClientLike,
  RedisClusterLike,
  RedisPipelineLike,
  RedisStandaloneLike,
  RedisSubscriberLike,
  SubscriberOverrides,
} from './client-types.js';
export { RedisCommandTimeoutError } from './command-runner.js';
export { connectBackend } from './connect-backend.js';
export type { RedisBackendOptions } from './options.js';
export { redisBackend } from './redis-backend.js';
export type { PubSubMode } from './release-subscriber.js';
