export {
  ClockMovedBackwardsError,
  IdGenArgumentError,
  IdGenBackendError,
  IdGenClosedError,
  IdGenError,
  type IdGenErrorCode,
  IdOverflowError,
  WorkerIdLostError,
  WorkerIdUnavailableError,
} from './errors.js';
export type { SegmentGenerator, SegmentGiveBack, SegmentSource } from './segment-buffer.js';
export {
  createSegmentGenerator,
  type SegmentGeneratorOptions,
  type SegmentOptions,
} from './segment-generator.js';
export {
  type ClockBackwardsPolicy,
  createSnowflake,
  type DecodedSnowflake,
  type LeasedWorkerId,
  type Snowflake,
  type SnowflakeOptions,
  TWITTER_EPOCH,
} from './snowflake.js';
export { SAFE_INTEGER_LAYOUT, type SnowflakeLayout, TWITTER_LAYOUT } from './snowflake-layout.js';
export { isUuid, parseUuid, stringifyUuid, uuidVersion, uuidv7ToDate } from './uuid-parse.js';
export { uuidv4 } from './uuid-v4.js';
export { createUuidv7Generator, type Uuidv7GeneratorOptions, uuidv7 } from './uuid-v7.js';
export {
  type LeaseLock,
  type LeaseLockClient,
  type LeaseWorkerIdOptions,
  leaseWorkerId,
  type WorkerLease,
} from './worker-lease.js';
