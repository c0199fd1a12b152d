/**
 * Error classes. Each has a stable `code`; `isInstance()` checks a global brand rather than the
 * prototype chain, so it answers correctly even when two copies of this package are installed.
 *
 * "Busy" (LockTimeoutError), "too many waiting already" (LockQueueFullError), "backend down"
 * (LockBackendError) and "lost while working" (LockLostError) are deliberately separate classes:
 * callers handle them differently.
 */

import { maskCredentials, redactDriverError } from './redact.js';

const BRAND = Symbol.for('@dlock/lock-core/error');

export type LockErrorCode =
  | 'DLOCK_TIMEOUT'
  | 'DLOCK_LOST'
  | 'DLOCK_NOT_HELD'
  | 'DLOCK_ARGUMENT'
  | 'DLOCK_BACKEND'
  | 'DLOCK_CLOSED'
  | 'DLOCK_QUEUE_FULL'
  | 'DLOCK_UNSUPPORTED'
  | 'DLOCK_UPGRADE'
  | 'DLOCK_LIMIT';

function branded(error: unknown): error is LockError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true
  );
}

export class LockError extends Error {
  declare readonly [BRAND]: true;
  readonly code: LockErrorCode;
  /** The lock's key, when the error concerns one. */
  readonly key: string | undefined;

  constructor(
    code: LockErrorCode,
    message: string,
    options?: { cause?: unknown; key?: string | undefined },
  ) {
    // Driver errors carry what was sent (passwords, owner tokens): only a safe copy is kept.
    super(
      message,
      options?.cause === undefined ? undefined : { cause: redactDriverError(options.cause) },
    );
    Object.defineProperty(this, BRAND, { value: true });
    this.code = code;
    this.key = options?.key;
    this.name = new.target.name;
  }

  /** True for any dlock error, also one thrown by another installed copy of this package. */
  static isInstance(error: unknown): error is LockError {
    return branded(error);
  }
}

/** The wait for a busy lock ran out (`waitTimeoutMs`), or a zero-wait acquire found it held. */
export class LockTimeoutError extends LockError {
  readonly waitTimeoutMs: number;
  constructor(key: string, waitTimeoutMs: number) {
    super(
      'DLOCK_TIMEOUT',
      `Timed out after ${waitTimeoutMs} ms waiting for lock "${key}": it is held by another owner`,
      {
        key,
      },
    );
    this.waitTimeoutMs = waitTimeoutMs;
  }
  static override isInstance(error: unknown): error is LockTimeoutError {
    return branded(error) && error.code === 'DLOCK_TIMEOUT';
  }
}

/** Which bound a refused waiter met: the client's `maxWaiters` or `maxWaitersPerKey`. */
export type LockQueueScope = 'client' | 'key';

/**
 * `acquire`/`using` refused at once, before any I/O, because this client already has as many
 * waiters as `maxWaiters` (scope `client`) or as `maxWaitersPerKey` for this key (scope `key`)
 * allow. Nothing was asked of the backend; the lock may well be free by now.
 */
export class LockQueueFullError extends LockError {
  readonly scope: LockQueueScope;
  /** The bound that was met. */
  readonly maxWaiters: number;
  constructor(key: string, scope: LockQueueScope, maxWaiters: number) {
    super(
      'DLOCK_QUEUE_FULL',
      scope === 'client'
        ? `Not waiting for lock "${key}": this client already has ${maxWaiters} waiters (maxWaiters)`
        : `Not waiting for lock "${key}": ${maxWaiters} of this client already wait for it (maxWaitersPerKey)`,
      { key },
    );
    this.scope = scope;
    this.maxWaiters = maxWaiters;
  }
  static override isInstance(error: unknown): error is LockQueueFullError {
    return branded(error) && error.code === 'DLOCK_QUEUE_FULL';
  }
}

/** Why a held lock stopped being held without the holder releasing it. */
export type LockLostReason =
  /** The server no longer has the lock under this owner (expired and maybe taken over). */
  | 'not-held'
  /** The TTL ran out before a renewal succeeded (renewals failed, or none was requested). */
  | 'expired'
  /** `maxHoldMs` was reached and the watchdog stopped renewing. */
  | 'max-hold'
  /** The client was closed while the lock was held. */
  | 'client-closed';

/** A held lock was lost: reported through `lock.signal` (as its reason) and `onLost`. */
export class LockLostError extends LockError {
  readonly reason: LockLostReason;
  constructor(key: string, reason: LockLostReason, options?: { cause?: unknown }) {
    super('DLOCK_LOST', `Lock "${key}" was lost (${reason})`, { key, cause: options?.cause });
    this.reason = reason;
  }
  static override isInstance(error: unknown): error is LockLostError {
    return branded(error) && error.code === 'DLOCK_LOST';
  }
}

/** `extend()` on a lock this handle no longer holds. Never re-acquires. */
export class LockNotHeldError extends LockError {
  constructor(key: string, message = `Lock "${key}" is not held by this owner`) {
    super('DLOCK_NOT_HELD', message, { key });
  }
  static override isInstance(error: unknown): error is LockNotHeldError {
    return branded(error) && error.code === 'DLOCK_NOT_HELD';
  }
}

/** Bad key, TTL, timeout or option. Always thrown before any I/O. */
export class LockArgumentError extends LockError {
  constructor(message: string) {
    // Argument messages quote what they refuse, which may be a URL with a password.
    super('DLOCK_ARGUMENT', maskCredentials(message));
  }
  static override isInstance(error: unknown): error is LockArgumentError {
    return branded(error) && error.code === 'DLOCK_ARGUMENT';
  }
}

/**
 * The backend lacks an optional operation the call needs: `forceRelease()` on a backend without
 * it, or a wait strategy (`native`, `watch`) whose capability the backend does not declare.
 * Thrown before any I/O; `operation` names the SPI method or capability that is missing.
 */
export class LockUnsupportedError extends LockError {
  /** The missing SPI method: `forceRelease`, `list`, `purge`, `waitAcquire` or `watch`. */
  readonly operation: string;
  constructor(operation: string, message: string) {
    super('DLOCK_UNSUPPORTED', message);
    this.operation = operation;
  }
  static override isInstance(error: unknown): error is LockUnsupportedError {
    return branded(error) && error.code === 'DLOCK_UNSUPPORTED';
  }
}

/**
 * The backend (server, network, driver) failed. The `cause` is a redacted copy of the driver's
 * error (same class, message, `code`/`errno`/`syscall`/`address`/`port`; no command arguments,
 * SQL or metadata), so it can be logged whole without printing a password or owner token.
 */
export class LockBackendError extends LockError {
  readonly backend: string;
  readonly operation: string;
  constructor(backend: string, operation: string, cause: unknown, key?: string) {
    const safe = redactDriverError(cause);
    const detail = safe instanceof Error ? safe.message : String(safe);
    super('DLOCK_BACKEND', `${backend} backend failed during ${operation}: ${detail}`, {
      cause: safe,
      key,
    });
    this.backend = backend;
    this.operation = operation;
  }
  static override isInstance(error: unknown): error is LockBackendError {
    return branded(error) && error.code === 'DLOCK_BACKEND';
  }
}

/**
 * The client (or its backend) was closed: pending waits end with this, and new calls are refused.
 * A closed backend rejects every call with it too, whatever the adapter.
 */
export class LockClosedError extends LockError {
  constructor(message = 'The lock client is closed') {
    super('DLOCK_CLOSED', message);
  }
  static override isInstance(error: unknown): error is LockClosedError {
    return branded(error) && error.code === 'DLOCK_CLOSED';
  }
}

/** Wraps anything a backend threw that is not already a dlock error. */
export function toBackendError(
  backend: string,
  operation: string,
  error: unknown,
  key?: string,
): LockError {
  return branded(error) ? error : new LockBackendError(backend, operation, error, key);
}

/**
 * A read holder asked for the write lock of the same key (in the same async context, or with the
 * same explicit owner). Refused at once: the write could only be granted once every reader left,
 * the caller included, so it would wait for itself. Release the read lock first, or take the
 * write lock first and downgrade (a write holder may take the read lock).
 */
export class LockUpgradeError extends LockError {
  constructor(key: string) {
    super(
      'DLOCK_UPGRADE',
      `Cannot take the write lock of "${key}" while holding its read lock: release the read lock first (a write holder may take the read lock, not the reverse)`,
      { key },
    );
  }
  static override isInstance(error: unknown): error is LockUpgradeError {
    return branded(error) && error.code === 'DLOCK_UPGRADE';
  }
}

/**
 * A semaphore's stored limit differs from the caller's. Every process must agree on the limit
 * (else one acting as if there were 10 permits and another as if there were 20 would break
 * both); change it on purpose with `changeLimit: true`.
 */
export class LockLimitError extends LockError {
  readonly storedLimit: number;
  readonly requestedLimit: number;
  constructor(key: string, storedLimit: number, requestedLimit: number) {
    super(
      'DLOCK_LIMIT',
      `Semaphore "${key}" has limit ${storedLimit} on the server, this caller asked for ${requestedLimit}: pass changeLimit: true to change it`,
      { key },
    );
    this.storedLimit = storedLimit;
    this.requestedLimit = requestedLimit;
  }
  static override isInstance(error: unknown): error is LockLimitError {
    return branded(error) && error.code === 'DLOCK_LIMIT';
  }
}
