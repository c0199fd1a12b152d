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

export function micros(ttlMs: number): number {
  return ttlMs * 1000;
}
