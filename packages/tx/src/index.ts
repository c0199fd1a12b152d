export type { RetryOptions } from './backoff.js';
export {
  type Barrier,
  type BarrierCall,
  type BarrierOp,
  type BarrierOptions,
  type BarrierOutcome,
  type BarrierResult,
  barrier,
  barrierSchemaSql,
  ensureBarrierSchema,
} from './barrier.js';
export {
  TxAbortedError,
  TxArgumentError,
  TxBackendError,
  TxClosedError,
  TxError,
  type TxErrorCode,
  TxPendingError,
} from './errors.js';
export type { TxBranchRecord, TxKind, TxLog, TxRecord, TxRecordPatch, TxState } from './log.js';
export { createTransactionManager } from './manager.js';
export { memoryTxLog } from './memory-log.js';
export { ensureSchema, type MysqlTxLogOptions, mysqlTxLog, schemaSql } from './mysql-log.js';
export type { MysqlConnectionLike, MysqlPoolLike, WriteResultLike } from './pool-types.js';
export type {
  BranchContext,
  RecoveryReport,
  SagaStep,
  TccBranch,
  TccTransaction,
  TransactionManager,
  TransactionManagerOptions,
  TransactionOptions,
  TxStatus,
  XaTransaction,
} from './types.js';
export { FORMAT_ID } from './xa.js';
