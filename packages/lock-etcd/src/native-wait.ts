import type { AcquireResult } from '@dlock/lock-core';
import { enqueueOwn } from './acquire.js';
import type { BackendContext, WaitingClaim } from './backend-context.js';
import { decodeHolder, heldBy } from './holder-value.js';
import type { Line } from './line.js';
import { grant, reenter, releaseHold } from './local-hold.js';
import { type Turn, throwIfAborted, waitForTurn } from './revision-queue.js';
import { CAS_ROUNDS, reenterShared } from './shared-owner.js';

/**
 * `waitAcquire` on the key's line: the owner holding it here re-enters; anyone else waits for
 * its turn among the local waiters (arrival order), then for its turn in etcd's queue.
 */
export async function waitOn(
  ctx: BackendContext,
  line: Line,
  claim: WaitingClaim,
): Promise<AcquireResult> {
  if (line.hold?.owner === claim.owner) {
    const reentered = await line.exclusive(async () =>
      line.hold?.owner === claim.owner ? reenter(ctx, line, line.hold, claim) : undefined,
    );
    if (reentered) return reentered;
  }
  if (!(await line.takeTurn(claim.deadline, claim.signals))) return { acquired: false };
  try {
    return await queueAndWait(ctx, line, claim);
  } finally {
    line.busy = false;
    line.promote();
  }
}

/**
 * The Mutex: queue a key, wait until every older key is gone, confirm ours still exists. The
 * caller holds the line's turn (`busy`), so this is the one local contender at the server.
 */
async function queueAndWait(
  ctx: BackendContext,
  line: Line,
  claim: WaitingClaim,
): Promise<AcquireResult> {
  const { owner, ttl, deadline, signals } = claim;
  const queue = ctx.queue(line.key);
  for (let round = 0; ; round++) {
    if (round === 10 * CAS_ROUNDS) throw new Error(`could not queue in ${queue}`);
    throwIfAborted(signals);
    if (performance.now() >= deadline) return { acquired: false };
    const { session, own, enqueued } = await enqueueOwn(ctx, queue, owner, ttl);
    const revision = enqueued.own.createRevision;
    if (!enqueued.created) {
      await ctx.driver.deleteIfCreateRevision(own, revision);
      continue;
    }
    let turn: Turn;
    let mine = enqueued.own;
    try {
      const first = enqueued.first;
      if (first && first.key !== own && heldBy(decodeHolder(first.value, first.lease), owner)) {
        await ctx.sweeper.withdraw(own, revision, session);
        return await reenterShared(ctx.driver, queue, owner, ttl);
      }
      if (first?.key === own) {
        turn = 'first';
      } else {
        // A waiter may wait longer than a TTL: keep its lease alive while it is queued.
        const queued = session.waiting();
        const standing = await waitForTurn(ctx, {
          queue,
          own,
          revision,
          session,
          deadline,
          signals,
        }).finally(queued);
        turn = standing.turn;
        if (standing.own) mine = standing.own;
      }
    } catch (error) {
      // Aborted, closed or failed: leave the queue at once so we block nobody behind us.
      await ctx.sweeper.withdraw(own, revision, session);
      throw error;
    }
    if (turn === 'timeout') {
      await ctx.sweeper.withdraw(own, revision, session);
      return { acquired: false };
    }
    // Our key vanished with our session while we waited: queue again on a fresh session.
    if (turn === 'session-lost') continue;
    const result = await grant(ctx, line, session, mine, claim);
    // The session died just as we got to the front: our key died with it, so queue again.
    if (!result.acquired && session.lost) continue;
    const aborted = signals.find((s) => s.aborted);
    if (aborted && result.acquired && line.hold) {
      // The grant raced the abort and won: hand the lock straight back.
      await releaseHold(ctx, line, line.hold).catch(() => {});
      throw aborted.reason;
    }
    return result;
  }
}
