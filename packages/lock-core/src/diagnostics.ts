import { channel } from 'node:diagnostics_channel';

/**
 * Instrumentation on `node:diagnostics_channel`. Messages are built only when somebody
 * subscribes, so an unobserved client pays one property read per event.
 */
export const channels = {
  /** `{ key, strategy, reentry }` when an acquire starts (`reentry`: the caller holds the key already). */
  acquireStart: channel('dlock:acquire:start'),
  /**
   * When it ends: `{ key, acquired: true, reentered, fencingToken, waitMs }` on a grant,
   * `{ key, acquired: false, waitMs, error }` otherwise (`tryAcquire`'s refusal included, as a
   * `LockTimeoutError`).
   */
  acquireEnd: channel('dlock:acquire:end'),
  /** `{ key, ok, durationMs, error?, watchdog }` after each renewal. */
  extend: channel('dlock:extend'),
  /** `{ key, reason, error }` when a held lock is lost. */
  lost: channel('dlock:lost'),
  /** `{ key, result, heldMs }` after a release. */
  release: channel('dlock:release'),
  /**
   * `{ where, key?, error }` for errors that have nowhere else to go: a throwing onLost callback,
   * or a best-effort step that failed (handing back a grant nobody waits for, closing a watch, a
   * cleanup after an earlier error), with the operation in `where` and the lock's key if any.
   */
  error: channel('dlock:error'),
} as const;

export type DlockChannelName = keyof typeof channels;

export function publish(name: DlockChannelName, message: () => object): void {
  const ch = channels[name];
  if (ch.hasSubscribers) ch.publish(message());
}

/**
 * A best-effort step failed and nobody awaits it: publish it on `dlock:error` instead of dropping
 * it (`where` names the operation, e.g. `'redis acquire: undo an under-replicated grant'`).
 * Returns nothing and never throws, so `promise.catch(reportError(...))`-style use is safe.
 */
export function reportError(where: string, error: unknown, key?: string): void {
  const ch = channels.error;
  if (ch.hasSubscribers) ch.publish(key === undefined ? { where, error } : { where, key, error });
}

/** `promise.catch(reported(where, key))`: the rejection goes to {@link reportError}. */
export function reported(where: string, key?: string): (error: unknown) => void {
  return (error) => reportError(where, error, key);
}
