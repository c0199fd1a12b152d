/**
 * Expiry is decided on the server's clock, in UTC: `UTC_TIMESTAMP(3)` rather than `NOW(3)`, so a
 * session time zone or a daylight-saving jump cannot move expiries by an hour. `expires_at` is a
 * DATETIME(3) in UTC; TTLs are whole milliseconds, passed as microseconds.
 */
export const NOW = 'UTC_TIMESTAMP(3)';

/** `NOW + ? µs`; bind `ttlMs * 1000`. */
export const NOW_PLUS = `${NOW} + INTERVAL ? MICROSECOND`;

/** Remaining lease time in microseconds (negative once expired). */
export const REMAINING_US = `TIMESTAMPDIFF(MICROSECOND, ${NOW}, \`expires_at\`)`;

/** A row whose lease still runs. */
export const LIVE = `\`expires_at\` > ${NOW}`;

/**
 * The server's time in microseconds since the Unix epoch, the floor of every fresh fencing
 * token. Computed from `UTC_TIMESTAMP(6)` by calendar arithmetic, so neither the session time
 * zone nor a daylight-saving change can shift it (`UNIX_TIMESTAMP(NOW(6))` would be an hour off
 * in the hour a DST change repeats).
 */
export const NOW_EPOCH_US = `TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6))`;

/**
 * The next fencing token of a state row: above its stored counter, and never below the server's
 * time, so a lost or reset counter (a deleted row, a restore from an older backup, a failover to
 * a replica that missed the last grants) restarts above every earlier token unless the server's
 * clock has stepped back by more than the time since that token was issued.
 */
export const NEXT_TOKEN = `GREATEST(\`fencing\` + 1, ${NOW_EPOCH_US})`;

export function micros(ttlMs: number): number {
  return ttlMs * 1000;
}
