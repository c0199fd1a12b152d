import type { ExtendResult } from './backend.js';

/**
 * How long a renewal that succeeded keeps the lock, from the moment the call was made: what the
 * backend reported, else what was asked. A malformed report counts as nothing left, so the lease
 * runs out at once rather than on a made-up deadline.
 */
export function renewedTtl(result: ExtendResult, requestedMs: number): number {
  if (typeof result !== 'object' || result === null) return requestedMs;
  return Number.isFinite(result.ttlMs) ? Math.max(0, result.ttlMs) : 0;
}

/** Whether the answer says renewed: `true` or a `{ ttlMs }` report. */
export function isRenewed(result: unknown): result is true | { readonly ttlMs: number } {
  return result === true || (typeof result === 'object' && result !== null);
}
