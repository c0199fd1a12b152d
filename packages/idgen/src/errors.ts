/**
 * Error classes. Each has a stable `code`; `isInstance()` checks a global brand rather than the
 * prototype chain, so it answers correctly even when two copies of this package are installed.
 */

const BRAND = Symbol.for('@dlock/idgen/error');

export type IdGenErrorCode =
  | 'IDGEN_ARGUMENT'
  | 'IDGEN_CLOCK_BACKWARDS'
  | 'IDGEN_OVERFLOW'
  | 'IDGEN_WORKER_ID_LOST'
  | 'IDGEN_WORKER_ID_UNAVAILABLE'
  | 'IDGEN_BACKEND'
  | 'IDGEN_CLOSED';

function branded(error: unknown): error is IdGenError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true
  );
}

export class IdGenError extends Error {
  declare readonly [BRAND]: true;
  readonly code: IdGenErrorCode;

  constructor(code: IdGenErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    Object.defineProperty(this, BRAND, { value: true });
    this.code = code;
    this.name = new.target.name;
  }

  /** True for any idgen error, also one thrown by another installed copy of this package. */
  static isInstance(error: unknown): error is IdGenError {
    return branded(error);
  }
}

/** A bad option or id: always thrown before any I/O. */
export class IdGenArgumentError extends IdGenError {
  constructor(message: string) {
    super('IDGEN_ARGUMENT', message);
  }
  static override isInstance(error: unknown): error is IdGenArgumentError {
    return branded(error) && error.code === 'IDGEN_ARGUMENT';
  }
}

/** The wall clock went back further than the generator is willing to wait out. */
export class ClockMovedBackwardsError extends IdGenError {
  /** How far behind the last issued timestamp the clock was, in milliseconds. */
  readonly backwardsMs: number;
  constructor(backwardsMs: number, maxBackwardsMs: number) {
    super(
      'IDGEN_CLOCK_BACKWARDS',
      `Clock moved backwards by ${backwardsMs} ms (more than maxBackwardsMs = ${maxBackwardsMs}); refusing to issue ids that could repeat`,
    );
    this.backwardsMs = backwardsMs;
  }
  static override isInstance(error: unknown): error is ClockMovedBackwardsError {
    return branded(error) && error.code === 'IDGEN_CLOCK_BACKWARDS';
  }
}

/** The id space ran out: the timestamp no longer fits its bits, or a counter passed 2^63-1. */
export class IdOverflowError extends IdGenError {
  constructor(message: string) {
    super('IDGEN_OVERFLOW', message);
  }
  static override isInstance(error: unknown): error is IdOverflowError {
    return branded(error) && error.code === 'IDGEN_OVERFLOW';
  }
}

/** The leased worker id was lost (or released): the generator built on it stops issuing. */
export class WorkerIdLostError extends IdGenError {
  readonly workerId: number;
  constructor(workerId: number, cause?: unknown) {
    super('IDGEN_WORKER_ID_LOST', `The lease on worker id ${workerId} was lost or released`, {
      cause,
    });
    this.workerId = workerId;
  }
  static override isInstance(error: unknown): error is WorkerIdLostError {
    return branded(error) && error.code === 'IDGEN_WORKER_ID_LOST';
  }
}

/** Every worker id under the prefix is held by another live process. */
export class WorkerIdUnavailableError extends IdGenError {
  constructor(prefix: string, max: number) {
    super(
      'IDGEN_WORKER_ID_UNAVAILABLE',
      `All ${max} worker ids under "${prefix}/" are leased by other holders`,
    );
  }
  static override isInstance(error: unknown): error is WorkerIdUnavailableError {
    return branded(error) && error.code === 'IDGEN_WORKER_ID_UNAVAILABLE';
  }
}

/** The store (Redis, MySQL, a custom segment source) failed. The driver's error is the `cause`. */
export class IdGenBackendError extends IdGenError {
  readonly operation: string;
  constructor(operation: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('IDGEN_BACKEND', `${operation} failed: ${detail}`, { cause });
    this.operation = operation;
  }
  static override isInstance(error: unknown): error is IdGenBackendError {
    return branded(error) && error.code === 'IDGEN_BACKEND';
  }
}

/** The generator was closed: new calls are refused. */
export class IdGenClosedError extends IdGenError {
  constructor(what: string) {
    super('IDGEN_CLOSED', `The ${what} is closed`);
  }
  static override isInstance(error: unknown): error is IdGenClosedError {
    return branded(error) && error.code === 'IDGEN_CLOSED';
  }
}

/** Wraps anything a store threw that is not already an idgen error. */
export function toBackendError(operation: string, error: unknown): IdGenError {
  return branded(error) ? error : new IdGenBackendError(operation, error);
}
