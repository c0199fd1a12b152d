/**
 * `@dlock/lock-core/spi`: the entry point for adapter authors. The backend contract (documented
 * in `backend.ts`), the helpers every adapter's `connectBackend` and options use, and the limits
 * the core enforces. Applications import from `@dlock/lock-core` instead.
 *
 * ```ts
 * import { type LockBackend, SPECIFICATION_VERSION, durationMs, rejectUnknownOptions } from '@dlock/lock-core/spi';
 * ```
 */
export {
  type AcquireRequest,
  type AcquireResult,
  type BackendAdapterModule,
  type BackendCapabilities,
  type CampaignRequest,
  type CampaignWaitRequest,
  type ElectionBackend,
  type ElectionCapabilities,
  type ExtendResult,
  type Granted,
  type HandOverResult,
  type LeaderState,
  type LeaseAcquireRequest,
  type LeaseKind,
  type LeaseRef,
  type LeaseState,
  type LeaseWaitRequest,
  type LockBackend,
  type LockState,
  type NativeWaitRequest,
  type OwnerRef,
  type Refused,
  type ReleaseResult,
  type SharedBackend,
  type SharedCapabilities,
  type SharedState,
  SPECIFICATION_VERSION,
  type SpecificationVersion,
  type WatchHandle,
} from './backend.js';
export { monotonicNow } from './clock.js';
export { reportError, reported } from './diagnostics.js';
// Thrown by a backend's shared-key operations (see SharedBackend); the core passes them through.
export { LockLimitError, LockUpgradeError } from './errors.js';
export {
  durationMs,
  type IntegerBounds,
  nonNegativeInt,
  positiveInt,
  rejectUnknownOptions,
} from './option-validators.js';
export { maskCredentials, redactDriverError } from './redact.js';
export {
  type PemInput,
  TLS_URL_PARAMS,
  type TlsSettings,
  tlsSettings,
  withoutTlsParams,
} from './tls-settings.js';
export { type UrlSettingNames, urlSettings } from './url-settings.js';
export { MAX_KEY_BYTES, MAX_TTL_MS } from './validate.js';
