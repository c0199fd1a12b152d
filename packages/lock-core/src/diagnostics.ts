import { channel } from 'node:diagnostics_channel';

/**
 * Instrumentation on `node:diagnostics_channel`. Messages are built only when somebody
 * subscribes, so an unobserved client pays one property read per event.
 */
export const channels = {
  /** `{ key, owner?, strategy }` when an acquire starts. */
  acquireStart: channel('dlock:acquire:start'),
  /** `{ key, acquired, reentered, fencingToken?, waitMs, error? }` when it ends either way. */
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
