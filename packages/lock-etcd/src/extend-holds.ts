import type { AcquireRequest } from '@dlock/lock-core';
import type { BackendContext } from './backend-context.js';
import { decodeHolder, heldBy } from './holder-value.js';
import type { Hold } from './line.js';
import { holdsShared } from './shared-owner.js';

/**
 * Renews each request's hold for `ttls[i]` (already validated): one read of every local key and
 * one refresh per session lease, in parallel. False for a hold that is no longer ours.
 */
export async function extendHolds(
  ctx: BackendContext,
  requests: readonly AcquireRequest[],
  ttls: readonly number[],
): Promise<boolean[]> {
  const holds = requests.map((r) => {
    const hold = ctx.lines.get(r.key)?.hold;
    return hold?.owner === r.owner ? hold : undefined;
  });
  const local = holds.filter((h): h is Hold => h !== undefined && !h.session.lost);
  const sessions = [...new Set(local.map((h) => h.session))];
  const started = performance.now();
  // Refresh the session lease with the same round trip as the reads: after a successful
  // extend the lease is guaranteed for a full session TTL, which is at least the lock's TTL, so
  // the caller's new expiry estimate never outlives the key.
  const [stored, refreshed] = await Promise.all([
    ctx.driver.getMany(local.map((h) => h.etcdKey)),
    Promise.all(
      sessions.map((s) =>
        s.lease.refresh().then(
          () => true,
          (e: unknown) => e,
        ),
      ),
    ),
  ]);
  const refreshErrors = new Map(sessions.map((s, i) => [s, refreshed[i]]));
  const results: boolean[] = [];
  for (const [i, request] of requests.entries()) {
    const hold = holds[i];
    if (!hold || hold.session.lost) {
      if (hold) ctx.lines.drop(ctx.lines.get(request.key), hold);
      // Not held through this backend: true if the owner holds it through another one.
      const queue = ctx.queue(request.key);
      results.push((await holdsShared(ctx.driver, queue, request.owner)) !== undefined);
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
    hold.expiresAt = started + ttls[i]!;
    ctx.lines.arm(line, hold);
    results.push(true);
  }
  return results;
}
