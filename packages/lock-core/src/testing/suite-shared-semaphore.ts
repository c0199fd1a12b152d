/**
 * Shared-key SPI, semaphores: limits, atomic permits, per-lease expiry, release accounting,
 * stored limits, re-entry, fencing and owner checks, on the backend's own methods.
 */
import assert from 'node:assert/strict';
import type { SharedBackend } from '../backend.js';
import { LockLimitError } from '../errors.js';
import {
  granted,
  heldPermits,
  newOwner,
  refused,
  type SharedSpiContext,
  semaphoreRequest as sem,
} from './shared-spi-context.js';

/** Shared operations of two fresh backends when semaphores of `limit` are supported. */
async function pair(
  ctx: SharedSpiContext,
  limit: number,
): Promise<[SharedBackend, SharedBackend] | undefined> {
  const a = await ctx.shared();
  const b = await ctx.shared();
  if (!a || !b || a.capabilities.maxSemaphoreLimit < limit) return undefined;
  return [a, b];
}

export function sharedSemaphoreSuite(ctx: SharedSpiContext): void {
  const { test, shortTtl } = ctx;

  test('grants up to the limit, refuses beyond, and inspect shows the holders', async () => {
    const backends = await pair(ctx, 3);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('sem-limit');
    assert.equal(await a.inspect('semaphore', k), null, 'nobody holds or waits yet');
    const owners = [newOwner(), newOwner(), newOwner()];
    for (const [i, owner] of owners.entries()) {
      const grant = await (i % 2 ? b : a).tryAcquire(sem(k, owner, 3));
      granted(grant, `holder ${i}`);
      assert.equal(grant.reentered, false);
    }
    const refusal = await b.tryAcquire(sem(k, newOwner(), 3));
    refused(refusal, 'a fourth permit of three');
    if (!refusal.acquired && refusal.retryAfterMs !== undefined) {
      assert.ok(refusal.retryAfterMs >= 0 && refusal.retryAfterMs <= 11_000);
    }
    const state = await b.inspect('semaphore', k);
    assert.ok(state);
    assert.equal(state.key, k);
    assert.equal(state.limit, 3);
    assert.deepEqual(state.holders.map((h) => h.owner).sort(), [...owners].sort());
    for (const holder of state.holders) {
      assert.equal(holder.kind, 'semaphore');
      assert.equal(holder.permits, 1);
      assert.equal(holder.count, 1);
      assert.ok(holder.ttlMs > 5_000 && holder.ttlMs <= 11_000);
    }
    if (state.waiters !== undefined) assert.equal(state.waiters, 0, 'tryAcquire leaves no entry');
    for (const [i, owner] of owners.entries()) {
      assert.equal(await (i % 2 ? b : a).release({ key: k, owner, kind: 'semaphore' }), 'released');
    }
    assert.equal(await a.inspect('semaphore', k), null, 'nobody holds or waits any more');
  });

  test('permits are taken atomically: all or none, and permits = limit works', async () => {
    const backends = await pair(ctx, 3);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('sem-permits');
    const one = newOwner();
    granted(await a.tryAcquire(sem(k, one, 3)));
    refused(await b.tryAcquire(sem(k, newOwner(), 3, { permits: 3 })), '3 asked, 2 free');
    assert.equal(heldPermits(await a.inspect('semaphore', k)), 1, 'the refusal took nothing');
    const two = newOwner();
    const pairGrant = await b.tryAcquire(sem(k, two, 3, { permits: 2 }));
    granted(pairGrant, 'the 2 free permits are still there');
    const state = await a.inspect('semaphore', k);
    assert.equal(heldPermits(state), 3);
    assert.equal(state?.holders.find((h) => h.owner === two)?.permits, 2);
    refused(await a.tryAcquire(sem(k, newOwner(), 3)), 'full');
    await a.release({ key: k, owner: one, kind: 'semaphore' });
    await b.release({ key: k, owner: two, kind: 'semaphore' });
    const all = newOwner();
    granted(await a.tryAcquire(sem(k, all, 3, { permits: 3 })), 'permits = limit');
    refused(await b.tryAcquire(sem(k, newOwner(), 3)), 'all permits taken by one lease');
    assert.equal(await a.release({ key: k, owner: all, kind: 'semaphore' }), 'released');
  });

  test('mixed TTLs never evict one another; the short lease expires alone and stops counting', async () => {
    const backends = await pair(ctx, 2);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('sem-mixed-ttl');
    const long = newOwner();
    const short = newOwner();
    granted(await a.tryAcquire(sem(k, long, 2, { ttlMs: 60_000 })));
    const shortGrant = await b.tryAcquire(sem(k, short, 2, { ttlMs: shortTtl }));
    granted(shortGrant);
    // A caller with a short TTL never removes a lease that is still live by its own deadline.
    refused(await b.tryAcquire(sem(k, newOwner(), 2, { ttlMs: shortTtl })), 'full');
    const holders = async () =>
      ((await a.inspect('semaphore', k))?.holders ?? []).map((h) => h.owner);
    assert.deepEqual((await holders()).sort(), [long, short].sort());
    await ctx.lapse(shortTtl, 'the short lease expired alone', async () => {
      const now = await holders();
      return now.length === 1 && now[0] === long;
    });
    const next = newOwner();
    const nextGrant = await b.tryAcquire(sem(k, next, 2));
    granted(nextGrant, 'the expired lease stopped counting');
    assert.ok(nextGrant.fencingToken > shortGrant.fencingToken, 'tokens never go back');
    refused(await b.tryAcquire(sem(k, newOwner(), 2)), 'the long lease still counts');
    assert.ok(
      (await a.inspect('semaphore', k))!.holders.find((h) => h.owner === long)!.ttlMs > 30_000,
    );
    assert.equal(await b.release({ key: k, owner: short, kind: 'semaphore' }), 'not-held');
    await a.release({ key: k, owner: long, kind: 'semaphore' });
    await b.release({ key: k, owner: next, kind: 'semaphore' });
  });

  test('double release and release after expiry answer not-held and never raise availability above the limit', async () => {
    const backends = await pair(ctx, 2);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('sem-release');
    const first = newOwner();
    const expiring = newOwner();
    granted(await a.tryAcquire(sem(k, first, 2)));
    granted(await b.tryAcquire(sem(k, expiring, 2, { ttlMs: shortTtl })));
    assert.equal(await a.release({ key: k, owner: first, kind: 'semaphore' }), 'released');
    assert.equal(await a.release({ key: k, owner: first, kind: 'semaphore' }), 'not-held');
    assert.equal(await a.release({ key: k, owner: newOwner(), kind: 'semaphore' }), 'not-held');
    const second = newOwner();
    granted(await a.tryAcquire(sem(k, second, 2)));
    refused(await a.tryAcquire(sem(k, newOwner(), 2)), 'a double release gave nothing back');
    await ctx.lapse(
      shortTtl,
      'the short lease expired',
      async () => (await a.inspect('semaphore', k))?.holders.length === 1,
    );
    assert.equal(await b.release({ key: k, owner: expiring, kind: 'semaphore' }), 'not-held');
    const third = newOwner();
    granted(await b.tryAcquire(sem(k, third, 2)));
    refused(await b.tryAcquire(sem(k, newOwner(), 2)), 'a late release gave nothing back');
    assert.equal(heldPermits(await a.inspect('semaphore', k)), 2);
    await a.release({ key: k, owner: second, kind: 'semaphore' });
    await b.release({ key: k, owner: third, kind: 'semaphore' });
  });

  test('a stored limit that differs rejects with LockLimitError and changes nothing; changeLimit stores it', async () => {
    const backends = await pair(ctx, 4);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('sem-limit-mismatch');
    const holder = newOwner();
    granted(await a.tryAcquire(sem(k, holder, 2)));
    const stranger = newOwner();
    await assert.rejects(
      b.tryAcquire(sem(k, stranger, 3, { queue: true })),
      (e: unknown) => LockLimitError.isInstance(e) && e.storedLimit === 2 && e.requestedLimit === 3,
    );
    const state = await b.inspect('semaphore', k);
    assert.equal(state?.limit, 2, 'the stored limit is unchanged');
    assert.deepEqual(
      state?.holders.map((h) => h.owner),
      [holder],
    );
    if (state?.waiters !== undefined) assert.equal(state.waiters, 0, 'no entry was queued');
    const changer = newOwner();
    granted(await b.tryAcquire(sem(k, changer, 3, { changeLimit: true })));
    assert.equal((await a.inspect('semaphore', k))?.limit, 3);
    await assert.rejects(a.tryAcquire(sem(k, newOwner(), 2)), (e: unknown) =>
      LockLimitError.isInstance(e),
    );
    const third = newOwner();
    granted(await a.tryAcquire(sem(k, third, 3)), 'the new limit has room for a third');
    await a.release({ key: k, owner: holder, kind: 'semaphore' });
    await b.release({ key: k, owner: changer, kind: 'semaphore' });
    await a.release({ key: k, owner: third, kind: 'semaphore' });
    // Nobody holds or waits: the key has no limit and takes the next caller's.
    const fresh = newOwner();
    granted(await b.tryAcquire(sem(k, fresh, 4)));
    assert.equal((await a.inspect('semaphore', k))?.limit, 4);
    await b.release({ key: k, owner: fresh, kind: 'semaphore' });
  });

  test('a lowered limit keeps the holders beyond it; new grants wait until the held permits fit it', async () => {
    const backends = await pair(ctx, 3);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('sem-lowered-limit');
    const holders = [newOwner(), newOwner(), newOwner()];
    for (const owner of holders) granted(await a.tryAcquire(sem(k, owner, 3)));
    const changer = newOwner();
    refused(await b.tryAcquire(sem(k, changer, 2, { changeLimit: true })), 'no room under 2');
    if (ctx.options.inspectsHoldersBeyondLoweredLimit !== false)
      assert.equal((await a.inspect('semaphore', k))?.holders.length, 3, 'nobody was evicted');
    await a.release({ key: k, owner: holders[0]!, kind: 'semaphore' });
    refused(await b.tryAcquire(sem(k, changer, 2, { changeLimit: true })), '2 held of 2');
    await a.release({ key: k, owner: holders[1]!, kind: 'semaphore' });
    granted(await b.tryAcquire(sem(k, changer, 2, { changeLimit: true })), '1 held: fits under 2');
    assert.equal((await a.inspect('semaphore', k))?.limit, 2);
    refused(await a.tryAcquire(sem(k, newOwner(), 2)), 'full under the new limit');
    await a.release({ key: k, owner: holders[2]!, kind: 'semaphore' });
    await b.release({ key: k, owner: changer, kind: 'semaphore' });
  });

  test('re-entry: count plus one, same token, no extra permits, granted even when full, never shortened', async () => {
    const backends = await pair(ctx, 2);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('sem-reentry');
    const owner = newOwner();
    const first = await a.tryAcquire(sem(k, owner, 2, { permits: 2 }));
    granted(first);
    refused(await b.tryAcquire(sem(k, newOwner(), 2)), 'full');
    const again = await a.tryAcquire(sem(k, owner, 2, { permits: 2, ttlMs: 1_000 }));
    granted(again, 're-entry is granted although the key is full');
    assert.equal(again.reentered, true);
    assert.equal(again.fencingToken, first.fencingToken);
    const state = await b.inspect('semaphore', k);
    assert.equal(state?.holders.length, 1);
    assert.equal(state?.holders[0]?.count, 2);
    assert.equal(state?.holders[0]?.permits, 2, 'no extra permits');
    assert.ok(state!.holders[0]!.ttlMs > 5_000, 'a shorter re-entry never shortens the lease');
    if (state?.holders[0]?.fencingToken !== undefined) {
      assert.equal(state.holders[0].fencingToken, first.fencingToken);
    }
    assert.equal(await a.release({ key: k, owner, kind: 'semaphore' }), 'decremented');
    refused(await b.tryAcquire(sem(k, newOwner(), 2)), 'still held after one release');
    assert.equal(await a.release({ key: k, owner, kind: 'semaphore' }), 'released');
    assert.equal(await a.inspect('semaphore', k), null);
  });

  test('fencing tokens strictly increase over all grants of different owners, also after every lease is gone', async () => {
    const backends = await pair(ctx, 3);
    if (!backends) return;
    const k = ctx.key('sem-fence');
    let last = -1n;
    const held: [SharedBackend, string][] = [];
    for (let i = 0; i < 8; i++) {
      const backend = backends[i % 2]!;
      if (held.length === 3) {
        const [holder, owner] = held.shift()!;
        assert.equal(await holder.release({ key: k, owner, kind: 'semaphore' }), 'released');
      }
      const owner = newOwner();
      const grant = await backend.tryAcquire(sem(k, owner, 3));
      granted(grant);
      assert.ok(grant.fencingToken > last, `${grant.fencingToken} > ${last}`);
      last = grant.fencingToken;
      held.push([backend, owner]);
    }
    for (const [holder, owner] of held) await holder.release({ key: k, owner, kind: 'semaphore' });
    assert.equal(await backends[0].inspect('semaphore', k), null);
    const later = await backends[1].tryAcquire(sem(k, newOwner(), 3, { ttlMs: 1_000 }));
    granted(later);
    assert.ok(later.fencingToken > last, 'tokens never go back after every lease is gone');
  });

  test('extend is owner-checked and never re-creates an expired lease', async () => {
    const backends = await pair(ctx, 2);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('sem-extend');
    const owner = newOwner();
    granted(await a.tryAcquire(sem(k, owner, 2)));
    assert.equal(
      await b.extend({ key: k, owner: newOwner(), kind: 'semaphore', ttlMs: 30_000 }),
      false,
    );
    assert.ok(
      (await b.inspect('semaphore', k))!.holders[0]!.ttlMs <= 11_000,
      'foreign extend changed nothing',
    );
    const renewed = await a.extend({ key: k, owner, kind: 'semaphore', ttlMs: 30_000 });
    assert.ok(renewed === true || (typeof renewed === 'object' && renewed.ttlMs > 20_000));
    assert.ok((await b.inspect('semaphore', k))!.holders[0]!.ttlMs > 20_000);
    const short = newOwner();
    granted(await b.tryAcquire(sem(k, short, 2, { ttlMs: shortTtl })));
    await ctx.lapse(
      shortTtl,
      'the short lease expired',
      async () => (await a.inspect('semaphore', k))?.holders.length === 1,
    );
    assert.equal(await b.extend({ key: k, owner: short, kind: 'semaphore', ttlMs: 30_000 }), false);
    assert.deepEqual(
      (await a.inspect('semaphore', k))?.holders.map((h) => h.owner),
      [owner],
      'the expired lease was not re-created',
    );
    await a.release({ key: k, owner, kind: 'semaphore' });
  });
}
