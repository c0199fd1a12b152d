/**
 * Exit codes of `dlock`, sysexits style: every error has a code of its own (64 and up), distinct
 * from every answer (`status`: 0 held, 1 free), so a script never takes a failure for an answer. `dlock run` otherwise exits with its command's own code, or 128 + the
 * signal number when the command was killed by a signal (as shells report it).
 */
export const EXIT = {
  /** Success (for `run`: the command exited 0). */
  OK: 0,
  /** `status`: the key is free. `release --force`: there was no lock. `demo`: the verdict failed. */
  NEGATIVE: 1,
  /** Bad arguments, bad URL, or a missing adapter package. Nothing was locked. */
  USAGE: 64,
  /** The backend failed or could not be reached, or refused the credentials or TLS handshake. */
  BACKEND: 69,
  /** An unexpected failure inside dlock (a bug): never taken for an answer such as "free". */
  INTERNAL: 70,
  /** A credentials or certificate file (`DLOCK_PASSWORD_FILE`, `--tls-ca` …) cannot be read. */
  NO_INPUT: 66,
  /** `run`: the wait for the lock ran out (`--wait`); someone else holds it. */
  TIMEOUT: 75,
  /**
   * `run`: the lock was lost, or not renewed in time, while the command ran; the command was
   * signalled per `--on-lost`, or ended by the guardian before the lease could run out.
   */
  LOST: 79,
  /** `run`: the command could not be executed (permission, not a program). */
  CANNOT_EXECUTE: 126,
  /** `run`: the command was not found. */
  NOT_FOUND: 127,
} as const;
