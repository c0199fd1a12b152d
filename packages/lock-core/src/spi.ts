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
  type ExtendResult,
  type Granted,
  type LockBackend,
  type LockState,
  type NativeWaitRequest,
  type OwnerRef,
  type Refused,
  type ReleaseResult,
  SPECIFICATION_VERSION,
  type SpecificationVersion,
  type WatchHandle,
} from './backend.js';
export { monotonicNow } from './clock.js';
export { reportError, reported } from './diagnostics.js';
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
