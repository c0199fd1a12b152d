/**
 * The waiter lease of a queue entry (the shared keys' waiters, the elections' candidates). A
 * queued caller is told to come back within `recheckMs`, a third of its lease (its refusal's
 * `retryAfterMs`), so its entry never lapses while it lives; and the entry is rewritten only once
 * less than two of those are left, so most polls of a waiting process commit no write (under
 * synchronous 'full', no fsync).
 */
export function waiterLease(
  entry: { readonly expires_at: number } | undefined,
  now: number,
  ttlMs: number,
): { readonly recheckMs: number; readonly refresh: boolean } {
  const recheckMs = Math.floor(ttlMs / 3);
  return { recheckMs, refresh: !entry || entry.expires_at - now <= 2 * recheckMs + 1 };
}
