/**
 * The waiting half of etcd's Mutex (`waitDeletes` in the Go client's key.go): with our key queued
 * at create revision R, wait until no contender created before R remains, watching only the
 * newest older key (so a release wakes one waiter), and re-reading after every event, at least
 * every few seconds, and after etcd failures.
 */
import { monotonicNow } from '@dlock/lock-core/spi';
import type { DeleteWatch, EtcdDriver, StoredKey } from './driver.js';
import { type OpenWatch, type Paused, pause } from './pause.js';
import type { Session } from './session.js';

/** Re-read our place at least this often even without a watch event: a lost event only delays. */
const RECHECK_MS = 5_000;
/** Re-read this soon after etcd failed to answer. */
const RETRY_MS = 250;
/** How much confirmed session lease must remain to take a deletion event as the grant. */
const CONFIRMED_MS = 1_000;

export type Turn = 'first' | 'session-lost' | 'timeout';
type Woke = 'deleted' | Paused;

export interface QueueContext {
  /** The mutex's `standing`, or an election's (`candidateStanding`). */
  readonly driver: Pick<EtcdDriver, 'standing' | 'watchDeletes'>;
  /** Open watches, so that closing the backend can cancel them. */
  readonly watches: Set<DeleteWatch>;
}

export interface Waiting {
  /** The lock key, for reports. */
  readonly key: string;
  readonly queue: string;
  /** Our contender key and its create revision. */
  readonly own: string;
  readonly revision: bigint;
  readonly session: Session;
  /** Monotonic deadline (`Infinity`: none). */
  readonly deadline: number;
  /** Any of them aborting ends the wait with its reason. */
  readonly signals: readonly AbortSignal[];
}

/** Resolves `first` (with our key as stored) once we hold the lock, or why the wait ended. */
export async function waitForTurn(
  ctx: QueueContext,
  w: Waiting,
): Promise<{ turn: Turn; own?: StoredKey }> {
  let failingSince: number | undefined;
  for (;;) {
    if (w.session.lost) return { turn: 'session-lost' };
    let woke: Woke;
    try {
      const standing = await ctx.driver.standing(w.queue, w.own, w.revision);
      // Our key is gone: our session expired, so this waiter must not believe it holds anything.
      if (!standing.own || standing.own.createRevision !== w.revision) {
        return { turn: 'session-lost' };
      }
      failingSince = undefined;
      if (!standing.predecessor) return { turn: 'first', own: standing.own };
      woke = await pauseFor(ctx, w, {
        key: standing.predecessor.key,
        fromRevision: standing.revision + 1n,
      });
      // Keys older than ours can only go away (new keys get newer revisions), so when the one
      // older key we saw is deleted we are first, and the Mutex's confirming read of our own
      // key can be skipped (a round trip less per hand-off) while the session lease is
      // confirmed alive: etcd cannot have expired it, so our key is still there. Otherwise,
      // or with more keys ahead, re-read.
      if (
        woke === 'deleted' &&
        standing.olderKeys === 1 &&
        !w.session.lost &&
        w.session.guaranteedUntil - monotonicNow() > CONFIRMED_MS
      ) {
        return { turn: 'first', own: standing.own };
      }
    } catch (error) {
      if (w.signals.some((s) => s.aborted)) throw error;
      // etcd unreachable for a moment (a leader election, a member going away): our key keeps
      // our place while the session lives, so re-read shortly instead of giving up the wait.
      // If the outage outlasts the lease, the session is lost and the caller queues again.
      failingSince ??= monotonicNow();
      if (monotonicNow() - failingSince > w.session.ttlMs) throw error;
      woke = await pauseFor(ctx, w, undefined, RETRY_MS);
    }
    if (woke === 'timeout' || woke === 'session-lost') return { turn: woke };
  }
}

/**
 * Watches one key for deletion (or just sleeps, without `target`); also ends at the deadline, on
 * abort, on session loss and after `maxWaitMs`.
 */
function pauseFor(
  ctx: QueueContext,
  w: Waiting,
  target: { readonly key: string; readonly fromRevision: bigint } | undefined,
  maxWaitMs = RECHECK_MS,
): Promise<Woke> {
  const open: OpenWatch<'deleted' | 'changed'> | undefined =
    target &&
    ((wake) =>
      // From the revision of our last read: a deletion in between is delivered, not missed.
      ctx.driver.watchDeletes({ key: target.key }, target.fromRevision, {
        onDelete: () => wake('deleted'),
        onResync: () => wake('changed'),
      }));
  return pause({ ...w, watches: ctx.watches }, open, maxWaitMs);
}
