/**
 * Redlock's allowance for clock drift between the nodes and this client: a fraction of the TTL
 * plus 2 ms for Redis's expiry resolution (the figure of the Redlock description).
 */
export function driftMs(ttlMs: number, driftFactor: number): number {
  return Math.ceil(ttlMs * driftFactor) + 2;
}

/**
 * The `rank`-th largest value (1-based). With the nodes' remaining TTLs and `rank` = the quorum,
 * this is how long a quorum of them still holds the lock: after that fewer than a quorum do.
 */
export function rankedDescending(values: readonly number[], rank: number): number {
  const sorted = [...values].sort((a, b) => b - a);
  return sorted[rank - 1] ?? 0;
}

/** Remaining validity in whole milliseconds (floored, so never later than the real end). */
export function validityMs(basisTtlMs: number, elapsedMs: number, drift: number): number {
  return Math.floor(basisTtlMs - elapsedMs - drift);
}
