import type { ElectionBackend, LeaderState, WatchHandle } from '../backend.js';
import { monotonicNow, toEpoch } from '../clock.js';
import { reportError } from '../diagnostics.js';
import { LockClosedError } from '../errors.js';
import type { LeaderInfo } from '../types.js';

/** The longest an observer trusts a reading: a leader that expired silently is seen within this. */
const MAX_POLL_MS = 1000;
/** Without a leader and without watch events, how often to look for a new one. */
const IDLE_POLL_MS = 250;
/** Backoff after a backend failure: doubling from the first to the last. */
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2000;

/** What an observer needs from its election. */
export interface ObservedElection {
  readonly name: string;
  readonly election: ElectionBackend;
  /** Aborted when the client closes: the iteration then ends with `LockClosedError`. */
  readonly closeSignal: AbortSignal;
}

/** The leader as users see it (the guarded backend already reduced the owner to its public part). */
export function leaderInfo(state: LeaderState | null, start: number): LeaderInfo | null {
  if (!state) return null;
  return {
    value: state.value,
    term: state.term,
    holder: state.owner,
    expiresAt: toEpoch(start + state.ttlMs),
  };
}

const sameLeader = (a: LeaderInfo | null, b: LeaderInfo | null): boolean =>
  a === b || (a !== null && b !== null && a.term === b.term && a.value === b.value);

/**
 * `election.observe()`: the leader now, then each change once (a new term, a proclaimed value,
 * `null` when nobody leads), never a lower term than one already reported (a reading from before
 * a change that raced it is skipped). Between readings it waits for the backend's watch event or
 * for the leader's remaining lease (at most a second, so a silent expiry is seen), so it needs no
 * keyspace notifications and survives lost events. A backend failure goes to diagnostics and the
 * loop retries with backoff (a reconnect is just a failure that stops). It ends when `signal`
 * aborts or the iterator is returned, closing its watch; a closed client ends it with
 * `LockClosedError`.
 */
export function observeLeader(
  source: ObservedElection,
  signal: AbortSignal | undefined,
): AsyncIterableIterator<LeaderInfo | null> {
  // `return()` must end a wait in progress too: a generator's own return() would queue behind
  // the pending `next()`, which settles only at the next change.
  const ended = new AbortController();
  const loop = observeLoop(source, signal, ended.signal);
  const iterator: AsyncIterableIterator<LeaderInfo | null> = {
    next: () => loop.next(),
    async return() {
      ended.abort();
      await loop.return(undefined);
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

async function* observeLoop(
  source: ObservedElection,
  signal: AbortSignal | undefined,
  ended: AbortSignal,
): AsyncGenerator<LeaderInfo | null, void, undefined> {
  const { name, election, closeSignal } = source;
  const wake = new Wake();
  let watch: WatchHandle | undefined;
  let reported: LeaderInfo | null | undefined;
  let highest = -1n;
  let failures = 0;
  const stop = (): boolean => signal?.aborted === true || ended.aborted || closeSignal.aborted;
  try {
    while (!stop()) {
      let waitMs: number;
      try {
        // The watch goes live before the reading, so no change after the reading is missed.
        if (!watch && election.watch) watch = await election.watch(name, () => wake.set());
        wake.clear();
        const start = monotonicNow();
        const state = await election.leader(name);
        failures = 0;
        const info = leaderInfo(state, start);
        // A reading older than one already reported (a lagging replica, a reply overtaken by a
        // change): skipped, and read again soon, since the backend is about to catch up.
        const stale = info !== null && info.term < highest;
        if (stop()) break;
        if (!stale && (reported === undefined || !sameLeader(reported, info))) {
          reported = info;
          if (info) highest = info.term;
          yield info;
        }
        waitMs = stale
          ? FIRST_BACKOFF_MS
          : state
            ? Math.min(Math.max(state.ttlMs, 1), MAX_POLL_MS)
            : watch
              ? MAX_POLL_MS
              : IDLE_POLL_MS;
      } catch (error) {
        if (stop()) break;
        reportError('observe: read the leader (retrying)', error, name);
        // A failed watch may have missed events: open a fresh one after the backoff.
        await closeWatch(watch, name);
        watch = undefined;
        waitMs = Math.min(FIRST_BACKOFF_MS * 2 ** failures, MAX_BACKOFF_MS);
        failures++;
      }
      await wake.wait(waitMs, signal, ended, closeSignal);
    }
    if (closeSignal.aborted && !signal?.aborted && !ended.aborted) throw new LockClosedError();
  } finally {
    await closeWatch(watch, name);
  }
}

async function closeWatch(watch: WatchHandle | undefined, name: string): Promise<void> {
  try {
    await watch?.close();
  } catch (error) {
    reportError('observe: close the watch', error, name);
  }
}

/** A wake-up that may come before anyone waits for it (a watch event during a reading). */
class Wake {
  #pending = false;
  #resolve: (() => void) | undefined;

  set(): void {
    this.#pending = true;
    this.#resolve?.();
  }

  clear(): void {
    this.#pending = false;
  }

  /** Until the wake-up, `ms`, or either signal aborts; leaves no timer or listener behind. */
  wait(ms: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
    if (this.#pending || signals.some((s) => s?.aborted)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        for (const s of signals) s?.removeEventListener('abort', done);
        this.#resolve = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      for (const s of signals) s?.addEventListener('abort', done, { once: true });
      this.#resolve = done;
    });
  }
}
