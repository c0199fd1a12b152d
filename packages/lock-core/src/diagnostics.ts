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
  /** `{ where, error }` for errors that have nowhere else to go (a throwing onLost callback). */
  error: channel('dlock:error'),
} as const;

export type DlockChannelName = keyof typeof channels;

export function publish(name: DlockChannelName, message: () => object): void {
  const ch = channels[name];
  if (ch.hasSubscribers) ch.publish(message());
}
