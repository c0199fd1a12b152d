/**
 * The names this package emits, in OpenTelemetry's semantic-convention style: dot-separated,
 * lower case, namespaced `dlock.*`; durations in seconds; attribute values low-cardinality on
 * metrics (never the key), the key only on spans; never an owner token anywhere.
 */

/** The `node:diagnostics_channel` channels `@dlock/lock-core` publishes on. */
export const CHANNELS = {
  acquireEnd: 'dlock:acquire:end',
  extend: 'dlock:extend',
  lost: 'dlock:lost',
  release: 'dlock:release',
} as const;

export const SPAN = {
  /** From the start of an acquire (acquire, tryAcquire, using) to its grant or failure. */
  wait: 'dlock.lock.wait',
  /** From a grant to the release that freed the key, or to the loss. */
  hold: 'dlock.lock.hold',
} as const;

export const METRIC = {
  /** Histogram, seconds: how long acquires took, by outcome. */
  waitDuration: 'dlock.lock.wait.duration',
  /** Histogram, seconds: how long locks were held, by how the hold ended. */
  holdDuration: 'dlock.lock.hold.duration',
  /** Counter: acquire calls by outcome. */
  acquisitions: 'dlock.lock.acquisitions',
  /** Counter: locks lost, by reason. */
  losses: 'dlock.lock.losses',
  /** UpDownCounter: locks this process holds now. */
  holds: 'dlock.lock.holds',
  /** Counter: renewals (watchdog and explicit `extend()`), by outcome. */
  renewals: 'dlock.lock.renewals',
} as const;

export const ATTR = {
  /** Span only: the lock's key. */
  key: 'dlock.lock.key',
  /** Span only: the grant's fencing token, as a decimal string. */
  fencingToken: 'dlock.lock.fencing_token',
  /** `acquired`, `reentered`, `timeout`, `aborted`, `queue_full`, `closed` or `error`. */
  outcome: 'dlock.lock.outcome',
  /** How a hold ended: `released` or `lost`. */
  end: 'dlock.lock.end',
  /** Why a lock was lost: `not-held`, `expired`, `max-hold`, `client-closed`. */
  lostReason: 'dlock.lock.lost.reason',
  /** Renewals: `ok` or `failed`. */
  renewalOutcome: 'dlock.lock.renewal.outcome',
  /** Renewals: whether the watchdog made it (rather than `lock.extend()`). */
  watchdog: 'dlock.lock.renewal.watchdog',
  /** OpenTelemetry's general attribute: the error's `code` (DLOCK_*) or class name. */
  errorType: 'error.type',
} as const;

/** Bucket boundaries in seconds, from sub-millisecond hand-offs to minutes-long waits/holds. */
export const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];
