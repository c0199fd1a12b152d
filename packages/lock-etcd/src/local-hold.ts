/**
 * Operations on a hold that lives on this backend's own session: granting it, re-entering it and
 * giving it up. The hold count is in the key's value, updated by compare-and-swap on the mod
 * revision, since the same explicit owner may change it through another backend meanwhile.
 */
import type { AcquireResult, ReleaseResult } from '@dlock/lock-core';
import type { BackendContext, Claim } from './backend-context.js';
import type { StoredKey } from './driver.js';
import { decodeHolder, encodeHolder, heldBy } from './holder-value.js';
import type { Hold, Line } from './line.js';
import { reportError } from './report-error.js';
import type { Session } from './session.js';
import { CAS_ROUNDS } from './shared-owner.js';

/** Records the grant and arms the TTL timer. */
export async function grant(
  ctx: BackendContext,
  line: Line,
  session: Session,
  own: StoredKey,
  claim: Claim,
): Promise<AcquireResult> {
  const hold: Hold = {
    key: line.key,
    etcdKey: own.key,
    owner: claim.owner,
    token: own.createRevision,
    modRevision: own.modRevision,
    count: 1,
    session,
    expiresAt: performance.now() + claim.ttl,
    timer: undefined,
  };
  line.hold = hold;
  ctx.lines.arm(line, hold);
  const ttlMs = await covered(hold, claim.entered);
  if (session.lost || line.hold !== hold) {
    ctx.lines.drop(line, hold);
    return { acquired: false };
  }
  ctx.lines.arm(line, hold);
  return { acquired: true, fencingToken: hold.token, reentered: false, ttlMs };
}

/** Re-entry by the owner holding the key through this backend: count + 1 in etcd. */
export async function reenter(
  ctx: BackendContext,
  line: Line,
  hold: Hold,
  claim: Claim,
): Promise<AcquireResult | undefined> {
  // Asked for longer than its lease's TTL: move the key to a lease of the longer TTL.
  const longer = claim.ttl > hold.session.ttlMs ? await ctx.sessions.current(claim.ttl) : undefined;
  for (let round = 0; round < CAS_ROUNDS; round++) {
    if (await writeCount(ctx, hold, hold.count + 1, longer)) {
      hold.expiresAt = Math.max(hold.expiresAt, performance.now() + claim.ttl);
      const ttlMs = await covered(hold, claim.entered);
      ctx.lines.arm(line, hold);
      return { acquired: true, fencingToken: hold.token, reentered: true, ttlMs };
    }
    // The hold is gone: the caller acquires afresh.
    if (!(await refreshHold(ctx, line, hold))) return undefined;
  }
  throw new Error(`too many concurrent changes to ${hold.etcdKey}`);
}

/** Gives up one hold count; the last one deletes the key, which wakes the next waiter. */
export async function releaseHold(
  ctx: BackendContext,
  line: Line,
  hold: Hold,
): Promise<ReleaseResult> {
  if (hold.session.lost) {
    ctx.lines.drop(line, hold);
    return 'not-held';
  }
  for (let round = 0; round < CAS_ROUNDS; round++) {
    if (hold.count > 1) {
      if (await writeCount(ctx, hold, hold.count - 1)) return 'decremented';
    } else {
      let deleted: boolean;
      try {
        deleted = await ctx.driver.deleteIfModRevision(hold.etcdKey, hold.modRevision);
      } catch (error) {
        // The caller gave the lock up: keep deleting the key in the background so the next
        // waiter need not wait out the TTL, and report the failure.
        ctx.lines.drop(line, hold);
        void ctx.sweeper.withdraw(hold.etcdKey, hold.token, hold.session);
        throw error;
      }
      if (deleted) {
        ctx.lines.drop(line, hold);
        return 'released';
      }
    }
    // Changed under us (the same explicit owner re-entering through another backend).
    if (!(await refreshHold(ctx, line, hold))) return 'not-held';
  }
  throw new Error(`too many concurrent changes to ${hold.etcdKey}`);
}

/**
 * Writes a new hold count (and moves the key to `session`'s lease, if given) if nothing changed
 * the key since we last saw it.
 */
export async function writeCount(
  ctx: BackendContext,
  hold: Hold,
  count: number,
  session?: Session,
): Promise<boolean> {
  const moving = session !== undefined && session !== hold.session ? session : undefined;
  const written = await ctx.driver.putIfModRevision(
    hold.etcdKey,
    hold.modRevision,
    encodeHolder(hold.owner, count),
    moving?.id,
  );
  if (written === undefined) return false;
  hold.modRevision = written;
  hold.count = count;
  if (moving) hold.session = moving;
  return true;
}

/** Re-reads a hold from etcd; drops it and returns false when it is no longer ours. */
async function refreshHold(ctx: BackendContext, line: Line, hold: Hold): Promise<boolean> {
  const [kv] = await ctx.driver.getMany([hold.etcdKey]);
  if (
    !kv ||
    kv.createRevision !== hold.token ||
    !heldBy(decodeHolder(kv.value, kv.lease), hold.owner)
  ) {
    ctx.lines.drop(line, hold);
    return false;
  }
  hold.modRevision = kv.modRevision;
  hold.count = decodeHolder(kv.value, kv.lease).count;
  return true;
}

/**
 * Milliseconds from `entered` that both the hold's TTL and the lease cover: the core measures a
 * grant's expiry from when it called us, so this includes any time spent waiting, and never
 * exceeds what etcd guarantees. Renews the lease first if its guarantee falls well short (joining
 * the keep-alive the enqueue sent, if any), and moves the hold's own expiry back to what is
 * covered: up to a twentieth of the TTL less than asked, when a keep-alive sent just before
 * covers it.
 */
async function covered(hold: Hold, entered: number): Promise<number> {
  const session = hold.session;
  if (!session.nearlyCovers(hold.expiresAt)) {
    await session
      .refresh(entered)
      .catch((error: unknown) => reportError('lease keep-alive', error));
  }
  hold.expiresAt = Math.min(hold.expiresAt, session.guaranteedUntil);
  return Math.max(1, Math.floor(hold.expiresAt - entered));
}
