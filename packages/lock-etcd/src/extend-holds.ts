import type { AcquireRequest, ExtendResult } from '@dlock/lock-core';
import type { BackendContext } from './backend-context.js';
import { decodeHolder, heldBy } from './holder-value.js';
import type { Hold } from './line.js';
import { writeCount } from './local-hold.js';
import { reportError } from './report-error.js';
import { holdsShared } from './shared-owner.js';

/**
 * Renews each request's hold for `ttls[i]` (already validated): one read of every local key and
 * one keep-alive per lease (all the holds of one TTL class share it), in parallel. False for a
 * hold that is no longer ours; `{ ttlMs }` when the lease covers less than asked (a keep-alive
 * shared with a batch started a moment earlier, or a TTL longer than the one the lock was
 * acquired with, whose lease it stays on).
 */
export async function extendHolds(
  ctx: BackendContext,
  requests: readonly AcquireRequest[],
  ttls: readonly number[],
): Promise<ExtendResult[]> {
  const holds = requests.map((r) => {
    const hold = ctx.lines.get(r.key)?.hold;
    return hold?.owner === r.owner ? hold : undefined;
  });
  // Asked for longer than their lease's TTL: move those keys to a lease of the longer TTL first
  // (rare: a lock is normally renewed with the TTL it was acquired with). A failed move leaves
  // the key where it was, and the renewal below then reports the shorter TTL it covers.
  await Promise.all(
    holds.map(async (hold, i) => {
      if (!hold || hold.session.lost || ttls[i]! <= hold.session.ttlMs) return;
      try {
        await writeCount(ctx, hold, hold.count, await ctx.sessions.current(ttls[i]!));
      } catch (error) {
        reportError('moving a lock to a longer lease', error);
      }
    }),
  );
  const local = holds.filter((h): h is Hold => h !== undefined && !h.session.lost);
  const sessions = [...new Set(local.map((h) => h.session))];
  const started = performance.now();
  // Renew the leases with the same round trip as the reads: the keep-alive is what extends the
  // keys on the server, and the caller's new expiry estimate never outlives what it covers.
  const [stored, refreshed] = await Promise.all([
    ctx.driver.getMany(local.map((h) => h.etcdKey)),
    Promise.all(
      sessions.map((s) =>
        s.refresh(started).then(
          () => true,
          (e: unknown) => e,
        ),
      ),
    ),
  ]);
  const refreshErrors = new Map(sessions.map((s, i) => [s, refreshed[i]]));
  const results: ExtendResult[] = [];
  for (const [i, request] of requests.entries()) {
    const hold = holds[i];
    if (!hold || hold.session.lost) {
      if (hold) ctx.lines.drop(ctx.lines.get(request.key), hold);
      // Not held through this backend: true if the owner holds it through another one.
      const queue = ctx.queue(request.key);
      const shared = await holdsShared(ctx.driver, queue, request.owner);
      // Our own key on the lost lease may outlive it for a moment: it is not a hold to renew.
      results.push(shared !== undefined && shared.lease !== hold?.session.id);
      continue;
    }
    const kv = stored[local.indexOf(hold)];
    const line = ctx.lines.get(request.key);
    const ours =
      kv !== undefined &&
      kv.createRevision === hold.token &&
      heldBy(decodeHolder(kv.value, kv.lease), request.owner);
    if (!ours || line?.hold !== hold) {
      ctx.lines.drop(line, hold);
      results.push(false);
      continue;
    }
    const refreshError = refreshErrors.get(hold.session);
    if (refreshError !== true) {
      if (hold.session.lost) {
        ctx.lines.drop(line, hold);
        results.push(false);
        continue;
      }
      // The key is there but the lease could not be renewed: a transient failure the caller
      // retries; it declares the lock lost if none succeeds in time.
      throw refreshError;
    }
    hold.modRevision = kv.modRevision;
    hold.count = decodeHolder(kv.value, kv.lease).count;
    const ttl = ttls[i]!;
    hold.expiresAt = Math.min(started + ttl, hold.session.guaranteedUntil);
    ctx.lines.arm(line, hold);
    const covered = Math.floor(hold.expiresAt - started);
    results.push(covered >= ttl ? true : { ttlMs: Math.max(1, covered) });
  }
  return results;
}
