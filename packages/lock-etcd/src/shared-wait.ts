/**
 * One pause of a semaphore or read-write waiter (`waitAcquire`): watch the one key (or, for the
 * head of a semaphore queue, the prefix) whose change may let it in, from the revision of the
 * read it decided on, so nothing in between is missed. Ends on a matching change, a resync, the
 * deadline, an abort, session loss, or after `RECHECK_MS` (a lost event only delays). The caller
 * re-reads its queue after every pause, its own key included.
 */
import type { EtcdDriver, KeyChange } from './driver.js';
import { type Paused, type Pausing, pause } from './pause.js';

/** Re-read at least this often even without a watch event. */
export const RECHECK_MS = 5_000;

export type Woke = Paused;

export interface PauseTarget {
  readonly target: { readonly key: string } | { readonly prefix: string };
  /** Which changes wake the waiter. */
  readonly wakes: (change: KeyChange) => boolean;
  readonly fromRevision: bigint;
}

export interface PauseContext extends Pausing {
  readonly driver: EtcdDriver;
}

export function pauseShared(
  ctx: PauseContext,
  on: PauseTarget | undefined,
  maxWaitMs = RECHECK_MS,
): Promise<Woke> {
  return pause(
    ctx,
    on &&
      ((wake) =>
        ctx.driver.watchChanges(on.target, on.fromRevision, {
          onChange: (change) => {
            if (on.wakes(change)) wake('changed');
          },
          onResync: () => wake('changed'),
        })),
    maxWaitMs,
  );
}
