/**
 * Monotonic milliseconds for every local deadline (waits, renewals, expiry estimates), so a wall
 * clock step cannot stretch or shrink them. `toEpoch` converts for the user-facing `expiresAt`.
 */
export function monotonicNow(): number {
  return performance.now();
}

export function toEpoch(monotonic: number): number {
  return Math.round(Date.now() + (monotonic - performance.now()));
}
