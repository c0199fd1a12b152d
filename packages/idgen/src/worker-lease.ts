import { IdGenArgumentError, toBackendError, WorkerIdUnavailableError } from './errors.js';
import type { LeasedWorkerId } from './snowflake.js';
import { checkInteger, checkNonEmptyString, MAX_TIMER_MS } from './validate.js';

/**
 * The part of a held `@dlock/lock-core` Lock that a lease uses. Typed structurally, so this
 * package needs lock-core only when you call `leaseWorkerId`, and any backend's client fits.
 */
export interface LeaseLock {
  readonly signal: AbortSignal;
  readonly expiresAt: number;
  release(): Promise<boolean>;
}

/** The part of a `@dlock/lock-core` LockClient that `leaseWorkerId` uses. */
export interface LeaseLockClient {
  tryAcquire(
    key: string,
    options: { autoExtend: boolean; ttlMs?: number; onLost?: (error: Error) => void },
  ): Promise<LeaseLock | null>;
}

export interface LeaseWorkerIdOptions {
  /** A lock-core client (any backend). Left open by `release()`. */
  locks: LeaseLockClient;
  /** Lock key prefix; worker id n is the lock `${prefix}/${n}`. */
  prefix: string;
  /** How many worker ids there are: ids 0 … max - 1 are tried in order (32 for 5 worker bits). */
  max: number;
  /**
   * Lease length in milliseconds; the watchdog renews it about every ttlMs / 3. A crashed
   * process's worker id becomes free after this.
   * @default the lock client's `ttlMs`
   */
  ttlMs?: number;
  /**
   * Called once if the lease is lost (the generator built on it already refuses to issue).
   * @default undefined
   */
  onLost?: (error: Error) => void;
}

export interface WorkerLease extends LeasedWorkerId, AsyncDisposable {
  readonly workerId: number;
  /** Aborts when the lease is lost or released. */
  readonly signal: AbortSignal;
  /** When the lease ends unless renewed (ms since the Unix epoch, conservative estimate). */
  readonly expiresAt: number;
  /** Give the worker id back; generators built on it stop issuing. Idempotent. */
  release(): Promise<void>;
}

/**
 * Hold a worker id for as long as this process lives: takes the lock `${prefix}/<n>` for the
 * first free n, kept alive by lock-core's watchdog. Pass the lease as `workerId` to
 * `createSnowflake`; the generator throws `WorkerIdLostError` as soon as the lock's signal aborts
 * or its expiry passes, so two live processes never issue ids under one worker id.
 */
export async function leaseWorkerId(options: LeaseWorkerIdOptions): Promise<WorkerLease> {
  if (typeof options?.locks?.tryAcquire !== 'function') {
    throw new IdGenArgumentError('locks must be a @dlock/lock-core LockClient');
  }
  const { locks, onLost } = options;
  const prefix = checkNonEmptyString('prefix', options.prefix);
  const max = checkInteger('max', options.max, 1, MAX_TIMER_MS);
  const ttlMs =
    options.ttlMs === undefined ? undefined : checkInteger('ttlMs', options.ttlMs, 1, MAX_TIMER_MS);
  if (onLost !== undefined && typeof onLost !== 'function') {
    throw new IdGenArgumentError('onLost must be a function');
  }

  for (let n = 0; n < max; n++) {
    let lock: LeaseLock | null;
    try {
      lock = await locks.tryAcquire(`${prefix}/${n}`, {
        autoExtend: true,
        ...(ttlMs === undefined ? {} : { ttlMs }),
        onLost: (error) => {
          try {
            onLost?.(error);
          } catch {
            // A throwing callback must not break the lock client's watchdog.
          }
        },
      });
    } catch (error) {
      throw toBackendError(`leaseWorkerId(${prefix}/${n})`, error);
    }
    if (lock !== null) return workerLease(n, lock);
  }
  throw new WorkerIdUnavailableError(prefix, max);
}

function workerLease(workerId: number, lock: LeaseLock): WorkerLease {
  // Released leases must stop generators too, but a normal release does not abort lock.signal.
  const released = new AbortController();
  const signal = AbortSignal.any([lock.signal, released.signal]);
  let releasing: Promise<void> | undefined;
  const release = (): Promise<void> => {
    releasing ??= (async () => {
      released.abort(new Error(`worker id ${workerId} was released`));
      await lock.release();
    })();
    return releasing;
  };
  return {
    workerId,
    get signal() {
      // Reading lock.signal's state settles a loss whose timer has not run yet (after a freeze
      // or a suspend), which aborts the combined signal too before the caller looks at it.
      void lock.signal.aborted;
      return signal;
    },
    get expiresAt() {
      return lock.expiresAt;
    },
    release,
    [Symbol.asyncDispose]: release,
  };
}
