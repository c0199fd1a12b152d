/** Recognising mysql2 / server errors the adapter treats as results rather than failures. */

interface DriverError {
  readonly errno?: number;
  readonly code?: string;
  readonly fatal?: boolean;
}

/**
 * The lock could not be had in time: InnoDB's lock wait timeout (1205, also what MariaDB answers
 * to NOWAIT) or MySQL 8's NOWAIT refusal (3572).
 */
export function isLockWaitRefusal(error: unknown): boolean {
  const errno = (error as DriverError)?.errno;
  return errno === 1205 || errno === 3572;
}

/** The connection is unusable: closed, reset, killed or timed out. */
export function isConnectionGone(error: unknown): boolean {
  const e = error as DriverError;
  return (
    e?.fatal === true ||
    e?.code === 'PROTOCOL_CONNECTION_LOST' ||
    e?.code === 'PROTOCOL_SEQUENCE_TIMEOUT' ||
    e?.code === 'ECONNRESET' ||
    e?.code === 'EPIPE' ||
    e?.errno === 1927
  );
}
