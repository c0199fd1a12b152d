/**
 * Shared-key SPI, read-write keys (capability readWrite): sharing and exclusion, writer
 * preference, downgrade, upgrade refusal, fencing of reads against writes, per-reader expiry.
 */
import assert from 'node:assert/strict';
import type { SharedBackend } from '../backend.js';
import { LockUpgradeError } from '../errors.js';
import {
  assertWaiters,
  granted,
  modeRequest,
  newOwner,
  refused,
  type SharedSpiContext,
} from './shared-spi-context.js';

const read = (key: string, owner: string, overrides = {}) =>
  modeRequest('read', key, owner, overrides);
const write = (key: string, owner: string, overrides = {}) =>
  modeRequest('write', key, owner, overrides);

async function pair(ctx: SharedSpiContext): Promise<[SharedBackend, SharedBackend] | undefined> {
  const a = await ctx.shared();
  const b = await ctx.shared();
  if (!a || !b || !a.capabilities.readWrite) return undefined;
  return [a, b];
}

export function sharedReadWriteSuite(ctx: SharedSpiContext): void {
  const { test, shortTtl } = ctx;

  test('readers share; a writer excludes readers and writers, both ways', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('rw-exclusion');
    const r1 = newOwner();
    const r2 = newOwner();
    granted(await a.tryAcquire(read(k, r1)));
    granted(await b.tryAcquire(read(k, r2)), 'readers share');
    refused(await b.tryAcquire(write(k, newOwner())), 'readers exclude a writer');
    const state = await a.inspect('read-write', k);
    assert.equal(state?.limit, Number.POSITIVE_INFINITY);
    assert.deepEqual(
      state?.holders.map((h) => h.kind),
      ['read', 'read'],
    );
    assert.equal(await a.release({ key: k, owner: r1, kind: 'read' }), 'released');
    assert.equal(await b.release({ key: k, owner: r2, kind: 'read' }), 'released');
    assert.equal(await a.inspect('read-write', k), null);
    const w = newOwner();
    granted(await b.tryAcquire(write(k, w)));
    refused(await a.tryAcquire(read(k, newOwner())), 'a writer excludes readers');
    refused(await a.tryAcquire(write(k, newOwner())), 'a writer excludes writers');
    const held = await a.inspect('read-write', k);
    assert.equal(held?.holders.length, 1);
    assert.equal(held?.holders[0]?.kind, 'write');
    assert.equal(held?.holders[0]?.owner, w);
    assert.equal(await a.release({ key: k, owner: w, kind: 'read' }), 'not-held', 'kinds apart');
    assert.equal(await b.release({ key: k, owner: w, kind: 'write' }), 'released');
  });

  test('a queued writer stops new readers while re-entrant reads still pass', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('rw-writer-preference');
    const reader = newOwner();
    granted(await a.tryAcquire(read(k, reader)));
    const writer = newOwner();
    const writeRequest = write(k, writer, { queue: true });
    const queued = await b.tryAcquire(writeRequest);
    refused(queued);
    if (!queued.acquired) {
      assert.ok(queued.retryAfterMs !== undefined && queued.retryAfterMs <= writeRequest.ttlMs / 3);
    }
    refused(await a.tryAcquire(read(k, newOwner())), 'a new reader waits behind the writer');
    const again = await a.tryAcquire(read(k, reader));
    granted(again, 'a re-entrant read passes the queued writer');
    assert.equal(again.reentered, true);
    assert.equal(await a.release({ key: k, owner: reader, kind: 'read' }), 'decremented');
    refused(await b.tryAcquire(writeRequest), 'the reader still holds');
    assert.equal(await a.release({ key: k, owner: reader, kind: 'read' }), 'released');
    granted(await b.tryAcquire(writeRequest), 'the queued writer is served');
    assertWaiters(await a.inspect('read-write', k), 0, 'its grant removed its entry');
    await b.release({ key: k, owner: writer, kind: 'write' });
  });

  test('downgrade: a write holder takes read at once; releasing write leaves the read, and writers stay out', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('rw-downgrade');
    const owner = newOwner();
    const writeGrant = await a.tryAcquire(write(k, owner));
    granted(writeGrant);
    const other = newOwner();
    refused(await b.tryAcquire(write(k, other, { queue: true })), 'another writer queues');
    const readGrant = await a.tryAcquire(read(k, owner));
    granted(readGrant, 'downgrade is granted at once, even with a writer queued');
    assert.equal(readGrant.reentered, false);
    assert.ok(readGrant.fencingToken >= writeGrant.fencingToken, 'read token >= the write');
    assert.deepEqual((await b.inspect('read-write', k))?.holders.map((h) => h.kind).sort(), [
      'read',
      'write',
    ]);
    assert.equal(await a.release({ key: k, owner, kind: 'write' }), 'released');
    const state = await b.inspect('read-write', k);
    assert.deepEqual(
      state?.holders.map((h) => [h.kind, h.owner]),
      [['read', owner]],
      'the read stays',
    );
    refused(
      await b.tryAcquire(write(k, other, { queue: true })),
      'the downgraded read keeps writers out',
    );
    refused(await b.tryAcquire(write(k, newOwner())), 'any writer');
    assert.equal(await a.release({ key: k, owner, kind: 'read' }), 'released');
    granted(await b.tryAcquire(write(k, other, { queue: true })), 'the queued writer is next');
    await b.release({ key: k, owner: other, kind: 'write' });
  });

  test('upgrade (read holder asks for write) rejects with LockUpgradeError at once and queues nothing', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('rw-upgrade');
    const owner = newOwner();
    granted(await a.tryAcquire(read(k, owner)));
    for (const queue of [false, true]) {
      await assert.rejects(a.tryAcquire(write(k, owner, { queue })), (e: unknown) =>
        LockUpgradeError.isInstance(e),
      );
    }
    const state = await b.inspect('read-write', k);
    assertWaiters(state, 0, 'the refused upgrade left no entry');
    assert.deepEqual(
      state?.holders.map((h) => [h.kind, h.owner, h.count]),
      [['read', owner, 1]],
      'the read is unchanged',
    );
    granted(await b.tryAcquire(read(k, newOwner())), 'and other readers still get in');
    await a.release({ key: k, owner, kind: 'read' });
  });

  test('write tokens strictly increase; a read token is at least the last write token', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('rw-fence');
    let lastWrite = -1n;
    let last = -1n;
    for (let i = 0; i < 3; i++) {
      const w = newOwner();
      const grant = await (i % 2 ? a : b).tryAcquire(write(k, w));
      granted(grant);
      assert.ok(grant.fencingToken > last, `write ${grant.fencingToken} > every earlier ${last}`);
      lastWrite = last = grant.fencingToken;
      await (i % 2 ? a : b).release({ key: k, owner: w, kind: 'write' });
      const readers = [newOwner(), newOwner()];
      for (const r of readers) {
        const readGrant = await a.tryAcquire(read(k, r));
        granted(readGrant);
        assert.ok(
          readGrant.fencingToken >= lastWrite,
          `read ${readGrant.fencingToken} >= ${lastWrite}`,
        );
        if (readGrant.fencingToken > last) last = readGrant.fencingToken;
      }
      for (const r of readers) await a.release({ key: k, owner: r, kind: 'read' });
    }
  });

  test('readers expire individually while another reader renews', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('rw-reader-expiry');
    const crashed = newOwner();
    const alive = newOwner();
    granted(await a.tryAcquire(read(k, crashed, { ttlMs: shortTtl })));
    granted(await b.tryAcquire(read(k, alive, { ttlMs: shortTtl })));
    const renew = async () =>
      assert.notEqual(
        await b.extend({ key: k, owner: alive, kind: 'read', ttlMs: shortTtl * 4 }),
        false,
        'the live reader renews',
      );
    await renew();
    await ctx.lapse(shortTtl, 'the crashed reader expired on its own', async () => {
      await renew();
      const holders = (await a.inspect('read-write', k))?.holders ?? [];
      return holders.length === 1 && holders[0]?.owner === alive;
    });
    refused(await a.tryAcquire(write(k, newOwner())), 'the renewing reader still holds');
    assert.equal(await a.extend({ key: k, owner: crashed, kind: 'read', ttlMs: 10_000 }), false);
    assert.equal(await b.release({ key: k, owner: alive, kind: 'read' }), 'released');
    const w = newOwner();
    granted(await a.tryAcquire(write(k, w)), 'nothing of the crashed reader is left');
    await a.release({ key: k, owner: w, kind: 'write' });
  });

  test('read and write counts are separate; releasing one kind leaves the other', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [a] = backends;
    const k = ctx.key('rw-counts');
    const owner = newOwner();
    granted(await a.tryAcquire(write(k, owner)));
    granted(await a.tryAcquire(write(k, owner)));
    granted(await a.tryAcquire(read(k, owner)));
    const counts = async () =>
      Object.fromEntries(
        ((await a.inspect('read-write', k))?.holders ?? []).map((h) => [h.kind, h.count]),
      );
    assert.deepEqual(await counts(), { write: 2, read: 1 });
    assert.equal(await a.release({ key: k, owner, kind: 'read' }), 'released');
    assert.deepEqual(await counts(), { write: 2 });
    assert.equal(await a.release({ key: k, owner, kind: 'write' }), 'decremented');
    assert.equal(await a.release({ key: k, owner, kind: 'write' }), 'released');
    assert.equal(await a.inspect('read-write', k), null);
  });
}
