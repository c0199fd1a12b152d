/** Capped exponential backoff with full jitter: uniform in [0, min(max, initial * 2^attempt)]. */
export function fullJitterDelay(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.random() * ceiling;
}
