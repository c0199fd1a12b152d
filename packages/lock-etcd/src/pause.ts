/**
 * One pause of a waiter, the mutex's (revision-queue.ts) or a semaphore or read-write lock's
 * (shared-wait.ts): wait for whichever comes first of a wake-up from the watch the caller opens,
 * the deadline, an abort (rejects with its reason), the loss of the waiter's session, or
 * `maxWaitMs` (then 'changed': the caller re-reads, so a lost event only delays). The watch is
 * closed when the pause ends, even one etcd confirms only after that.
 */
import { monotonicNow } from '@dlock/lock-core/spi';
import type { DeleteWatch } from './driver.js';
import type { Session } from './session.js';

/** How every pause can end besides the caller's own wake-ups. */
export type Paused = 'changed' | 'timeout' | 'session-lost';

export interface Pausing {
  /** Open watches, so that closing the backend can cancel them. */
  readonly watches: Set<DeleteWatch>;
  readonly session: Session;
  /** Monotonic deadline (`Infinity`: none). */
  readonly deadline: number;
  /** Any of them aborting ends the pause with its reason. */
  readonly signals: readonly AbortSignal[];
}

/** Opens the watch whose events end the pause with `wake` (none: the pause just sleeps). */
export type OpenWatch<W extends string> = (wake: (woke: W) => void) => Promise<DeleteWatch>;

export async function pause<W extends string = never>(
  ctx: Pausing,
  open: OpenWatch<W | 'changed'> | undefined,
  maxWaitMs: number,
): Promise<W | Paused> {
  let wake!: (outcome: W | Paused) => void;
  let fail!: (reason: unknown) => void;
  const outcome = new Promise<W | Paused>((resolve, reject) => {
    wake = resolve;
    fail = reject;
  });
  const onAbort = (event: Event): void => fail((event.target as AbortSignal).reason);
  for (const signal of ctx.signals) signal.addEventListener('abort', onAbort, { once: true });
  const stopLost = ctx.session.whenLost(() => wake('session-lost'));
  const remaining = ctx.deadline - monotonicNow();
  const timer = setTimeout(
    () => wake(remaining <= maxWaitMs ? 'timeout' : 'changed'),
    Math.max(0, Math.min(remaining, maxWaitMs)),
  );
  timer.unref();
  let watch: DeleteWatch | undefined;
  let watching: Promise<DeleteWatch> | undefined;
  try {
    throwIfAborted(ctx.signals);
    if (open) {
      watching = open(wake);
      watch = await Promise.race([watching, outcome.then(() => undefined)]);
      if (watch) ctx.watches.add(watch);
    }
    return await outcome;
  } finally {
    clearTimeout(timer);
    stopLost();
    for (const signal of ctx.signals) signal.removeEventListener('abort', onAbort);
    if (watch) {
      ctx.watches.delete(watch);
      void watch.close();
    } else {
      // The wait ended before the watch was confirmed: close it once it is.
      watching?.then(
        (late) => late.close(),
        // A watch that failed before the wait ended failed the wait (the race above); one that
        // fails after it ended was needed by nobody.
        () => undefined,
      );
    }
  }
}

export function throwIfAborted(signals: readonly AbortSignal[]): void {
  for (const signal of signals) if (signal.aborted) throw signal.reason;
}
