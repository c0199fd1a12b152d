import type { AcquireParams, Attempt, Promotion, Waiter } from './line.js';

/**
 * The `poll` strategy: the head of the key's line asks, and when refused sleeps with capped
 * exponential backoff and full jitter, never longer than the holder's remaining TTL, then asks
 * again. A release by this client wakes it at once (`Lines.released`).
 *
 * `front`: the waiter was refused just now, at its first attempt (with this hint), so it naps
 * first. Promoted after the previous head was granted, it naps first too, bounded by that grant.
 */
export async function pollTurn(
  waiter: Waiter,
  promotion: Promotion,
  front: { readonly retryAfterMs: number | undefined } | undefined,
): Promise<Attempt> {
  const { p } = waiter;
  let skipAsk = promotion !== 'try' || front !== undefined;
  let retryAfterMs = promotion === 'try' ? front?.retryAfterMs : promotion.heldForMs;
  for (let round = 0; ; round++) {
    if (!skipAsk) {
      const next = await waiter.attempt();
      if (next.result.acquired) return next;
      retryAfterMs = next.result.retryAfterMs;
    }
    skipAsk = false;
    await waiter.nap(backoffMs(p, round, retryAfterMs));
  }
}

function backoffMs(p: AcquireParams, round: number, retryAfterMs: number | undefined): number {
  const delay = fullJitterDelay(round, p.initialDelayMs, p.maxDelayMs);
  return retryAfterMs === undefined ? delay : Math.min(delay, retryAfterMs + 1);
}

/** Capped exponential backoff with full jitter: uniform in [0, min(max, initial * 2^attempt)]. */
function fullJitterDelay(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.random() * ceiling;
}
