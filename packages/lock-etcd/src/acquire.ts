/**
 * The acquiring half of etcd's Mutex: put our contender key in the lock's queue; whoever is
 * first (lowest create revision) holds the lock. `tryAcquireOn` is the variant that never waits.
 */
import type { AcquireResult } from '@dlock/lock-core';
import type { BackendContext, Claim } from './backend-context.js';
import type { Enqueued } from './driver.js';
import { decodeHolder, encodeHolder, heldBy } from './holder-value.js';
import { contenderKey } from './keys.js';
import type { Hold, Line } from './line.js';
import { grant, reenter } from './local-hold.js';
import { reportError } from './report-error.js';
import { isLeaseNotFound, type Session } from './session.js';
import { CAS_ROUNDS, reenterShared } from './shared-owner.js';

export interface Contender {
  readonly session: Session;
  /** Our contender key: one per session and queue. */
  readonly own: string;
  readonly enqueued: Enqueued;
}

/**
 * Puts our contender key in `queue` on the session of the lock's TTL class, unless one is already
 * there. A lease whose guarantee would end well before the new lock's TTL gets a keep-alive sent
 * alongside the put (the same round trip), so the grant can be reported for its full TTL.
 */
export async function enqueueOwn(
  ctx: BackendContext,
  queue: string,
  owner: string,
  ttl: number,
): Promise<Contender> {
  for (let round = 0; ; round++) {
    const session = await ctx.sessions.current(ttl);
    const own = contenderKey(queue, session.id);
    const renewing = session.nearlyCovers(performance.now() + ttl) ? undefined : session.refresh();
    // The grant waits for it; a failure only shortens the TTL the grant can report.
    renewing?.catch((error: unknown) => reportError('lease keep-alive', error));
    try {
      const enqueued = await ctx.driver.enqueue(queue, own, encodeHolder(owner, 1), session.id);
      return { session, own, enqueued };
    } catch (error) {
      // etcd expired the lease before the put reached it: the session is lost, queue on a new one.
      if (round === 0 && isLeaseNotFound(error)) {
        session.markLost(error);
        continue;
      }
      throw error;
    }
  }
}

/**
 * `tryAcquire` on the key's line: the owner holding it here re-enters; anyone else is refused
 * while it is held or another local contender uses the contender key, or makes one attempt.
 */
export function tryAcquireOn(
  ctx: BackendContext,
  line: Line,
  claim: Claim,
): Promise<AcquireResult> {
  return line.exclusive(async () => {
    if (line.hold?.owner === claim.owner) {
      const reentered = await reenter(ctx, line, line.hold, claim);
      if (reentered) return reentered;
    }
    if (line.hold) return refusedBy(line.hold);
    if (line.busy) return { acquired: false };
    line.busy = true;
    try {
      return await attempt(ctx, line, claim);
    } finally {
      line.busy = false;
      line.promote();
    }
  });
}

/** One Mutex attempt that never waits: first in the queue, or withdraw and refuse. */
async function attempt(ctx: BackendContext, line: Line, claim: Claim): Promise<AcquireResult> {
  const { owner, ttl } = claim;
  const queue = ctx.queue(line.key);
  for (let round = 0; ; round++) {
    if (round === CAS_ROUNDS) throw new Error(`could not clear a stale key of ours in ${queue}`);
    const { session, own, enqueued } = await enqueueOwn(ctx, queue, owner, ttl);
    if (!enqueued.created) {
      // A leftover of ours (a hold that expired locally, a waiter whose withdrawal is still
      // being retried): nobody uses it any more, so clear it and start over.
      await ctx.driver.deleteIfCreateRevision(own, enqueued.own.createRevision);
      continue;
    }
    if (enqueued.first?.key === own) {
      return grant(ctx, line, session, enqueued.own, claim);
    }
    // Not first: take our key out again at once so it blocks nobody.
    await ctx.sweeper.withdraw(own, enqueued.own.createRevision, session);
    const first = enqueued.first;
    if (first && heldBy(decodeHolder(first.value, first.lease), owner)) {
      return reenterShared(ctx.driver, queue, owner, ttl);
    }
    return { acquired: false };
  }
}

/** Held here by another owner: the caller may retry once the local hold's TTL has run out. */
function refusedBy(hold: Hold): AcquireResult {
  return {
    acquired: false,
    retryAfterMs: Math.max(0, Math.ceil(hold.expiresAt - performance.now())),
  };
}
