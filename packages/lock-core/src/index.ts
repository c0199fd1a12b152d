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
  LockLostError,
  type LockLostReason,
  LockNotHeldError,
  LockQueueFullError,
  type LockQueueScope,
  LockTimeoutError,
} from './errors.js';
export type { ListedLock, ListOptions } from './list.js';
export { type MemoryBackendOptions, memoryBackend } from './memory/memory-backend.js';
export { type MemoryClock, MemoryStore } from './memory/memory-store.js';
export { maskCredentials, redactDriverError } from './redact.js';
export {
  type PemInput,
  TLS_URL_PARAMS,
  type TlsSettings,
  tlsSettings,
  withoutTlsParams,
} from './tls-settings.js';
export type {
  AcquireOptions,
  HoldOptions,
  Lock,
  LockClient,
  LockClientOptions,
  LockInfo,
  OnLost,
  PollOptions,
  TryAcquireOptions,
  UsingOptions,
  WaitStrategy,
} from './types.js';
export { type UrlSettingNames, urlSettings } from './url-settings.js';
export { MAX_KEY_BYTES, MAX_TTL_MS } from './validate.js';
