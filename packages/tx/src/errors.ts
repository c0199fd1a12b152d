/**
 * Error classes of @dlock/tx. Each has a stable `code`; `isInstance()` checks a global brand
 * rather than the prototype chain, so it answers correctly across two installed copies.
 */

const BRAND = Symbol.for('@dlock/tx/error');

export type TxErrorCode =
  | 'DLOCK_TX_ARGUMENT'
  | 'DLOCK_TX_ABORTED'
  | 'DLOCK_TX_PENDING'
  | 'DLOCK_TX_BACKEND'
  | 'DLOCK_TX_CLOSED';

function branded(error: unknown): error is TxError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true
  );
}

export class TxError extends Error {
  declare readonly [BRAND]: true;
  readonly code: TxErrorCode;
  /** The global transaction id, when the error concerns one. */
  readonly gid: string | undefined;

  constructor(
    code: TxErrorCode,
    message: string,
    options?: { cause?: unknown; gid?: string | undefined },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    Object.defineProperty(this, BRAND, { value: true });
    this.code = code;
    this.gid = options?.gid;
    this.name = new.target.name;
  }

  /** True for any @dlock/tx error, also one thrown by another installed copy. */
  static isInstance(error: unknown): error is TxError {
    return branded(error);
  }
}

/** Bad option, branch or step. Always thrown before any I/O. */
export class TxArgumentError extends TxError {
  constructor(message: string) {
    super('DLOCK_TX_ARGUMENT', message);
  }
  static override isInstance(error: unknown): error is TxArgumentError {
    return branded(error) && error.code === 'DLOCK_TX_ARGUMENT';
  }
}

/**
 * The transaction did not commit: it was rolled back (XA), cancelled (TCC) or compensated
 * (saga). `cause` is what made it fail (the business error, a prepare failure, the timeout).
 */
export class TxAbortedError extends TxError {
  constructor(gid: string, message: string, cause?: unknown) {
    super('DLOCK_TX_ABORTED', `Transaction ${gid} ${message}`, { gid, cause });
  }
  static override isInstance(error: unknown): error is TxAbortedError {
    return branded(error) && error.code === 'DLOCK_TX_ABORTED';
  }
}

/**
 * The outcome is decided and durable in the log, but its second phase (XA COMMIT/ROLLBACK,
 * confirm, cancel or compensation) did not finish within the call's budget. Recovery finishes
 * it; `status(gid)` tells where it stands. `outcome` is what will happen.
 */
export class TxPendingError extends TxError {
  readonly outcome: 'commit' | 'rollback';
  constructor(gid: string, outcome: 'commit' | 'rollback', cause: unknown) {
    super(
      'DLOCK_TX_PENDING',
      `Transaction ${gid} is decided (${outcome}) but its second phase is unfinished; recovery will complete it`,
      { gid, cause },
    );
    this.outcome = outcome;
  }
  static override isInstance(error: unknown): error is TxPendingError {
    return branded(error) && error.code === 'DLOCK_TX_PENDING';
  }
}

/** The coordinator log or a resource manager failed. The driver's error is the `cause`. */
export class TxBackendError extends TxError {
  readonly operation: string;
  constructor(operation: string, cause: unknown, gid?: string) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('DLOCK_TX_BACKEND', `Transaction backend failed during ${operation}: ${detail}`, {
      cause,
      gid,
    });
    this.operation = operation;
  }
  static override isInstance(error: unknown): error is TxBackendError {
    return branded(error) && error.code === 'DLOCK_TX_BACKEND';
  }
}

/** The transaction manager was closed: new transactions are refused. */
export class TxClosedError extends TxError {
  constructor() {
    super('DLOCK_TX_CLOSED', 'The transaction manager is closed');
  }
  static override isInstance(error: unknown): error is TxClosedError {
    return branded(error) && error.code === 'DLOCK_TX_CLOSED';
  }
}
