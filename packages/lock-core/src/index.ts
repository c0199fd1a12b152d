// The backend contract and the adapter helpers are in `@dlock/lock-core/spi`; applications need
// only the backend's type, to pass one around.
/**
 * @deprecated SPI types: import them from `@dlock/lock-core/spi`. Kept here, types only, until
 * every adapter file has moved; removed before 1.0.
 */
export type {
  AcquireRequest,
  AcquireResult,
  BackendAdapterModule,
  BackendCapabilities,
  ExtendResult,
  Granted,
  ListedState,
  ListPage,
  ListRequest,
  LockBackend,
  LockState,
  NativeWaitRequest,
  OwnerRef,
  Refused,
  ReleaseResult,
  WatchHandle,
} from './backend.js';
export { createLockClient } from './client.js';
export { monotonicNow } from './clock.js';
export { type ConnectOptions, connect } from './connect.js';
export { channels, type DlockChannelName } from './diagnostics.js';
export {
  LockArgumentError,
  LockBackendError,
  LockClosedError,
  LockError,
  type LockErrorCode,
  LockLimitError,
  LockLostError,
  type LockLostReason,
  LockNotHeldError,
  LockQueueFullError,
  type LockQueueScope,
  LockTimeoutError,
  LockUnsupportedError,
  LockUpgradeError,
} from './errors.js';
export type { ListedLock, ListOptions } from './list.js';
export { type MemoryBackendOptions, memoryBackend } from './memory/memory-backend.js';
export { type MemoryClock, MemoryStore } from './memory/memory-store.js';
export { maskCredentials, redactDriverError } from './redact.js';
// The types of `connect(url, { backend: { tls } })`; the helpers reading them are in /spi.
export type { PemInput, TlsSettings } from './tls-settings.js';
export type {
  AcquireAllOptions,
  AcquireOptions,
  CampaignOptions,
  Election,
  ElectionOptions,
  HoldOptions,
  LeaderInfo,
  Leadership,
  LeaseHolderInfo,
  Lock,
  LockClient,
  LockClientOptions,
  LockInfo,
  LockMode,
  MultiLock,
  OnLost,
  Permit,
  PermitCount,
  PollOptions,
  ReadWriteLock,
  ReadWriteLockInfo,
  RunOptions,
  Semaphore,
  SemaphoreAcquireOptions,
  SemaphoreInfo,
  SemaphoreOptions,
  SemaphoreTryAcquireOptions,
  SemaphoreUsingOptions,
  TryAcquireAllOptions,
  TryAcquireOptions,
  UsingOptions,
  WaitStrategy,
} from './types.js';
export { MAX_KEY_BYTES, MAX_TTL_MS } from './validate.js';
