/**
 * Exit codes of `dlock`. `dlock run` otherwise exits with its command's own code, or 128 + the
 * signal number when the command was killed by a signal (as shells report it).
 */
export const EXIT = {
  /** Success (for `run`: the command exited 0). */
  OK: 0,
  /** `status`: the key is free. `release --force`: there was no lock. `demo`: the verdict failed. */
  NEGATIVE: 1,
  /** Bad arguments, bad URL, or a missing adapter package. Nothing was locked. */
  USAGE: 64,
  /** The backend failed or could not be reached. */
  BACKEND: 69,
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

export type ExitCode = number;
