/**
 * How a driver failure reaches the core, for the mutex half (etcd-backend.ts) and the shared half
 * (shared-backend.ts) alike: as the SPI operation's `LockBackendError`, with dlock's own errors
 * (closed, limit, upgrade...) passing as they are.
 */
import { LockBackendError, LockError } from '@dlock/lock-core';

/** The backend's name in its errors. */
export const BACKEND_NAME = 'etcd';

/** A `.catch` handler naming the failure after `operation` on `key`. */
export function failed(operation: string, key: string | undefined) {
  return (error: unknown): never => {
    throw LockError.isInstance(error)
      ? error
      : new LockBackendError(BACKEND_NAME, operation, error, key);
  };
}

/**
 * `failed` for a wait: an abort rejects with the caller's own reason, as the SPI says, not as a
 * backend failure.
 */
export function failedWait(signal: AbortSignal, key: string) {
  return (error: unknown): never => {
    if (signal.aborted && error === signal.reason) throw error;
    return failed('waitAcquire', key)(error);
  };
}
