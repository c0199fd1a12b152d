/**
 * Client-level read-write locks through `createLockClient`: sharing and exclusion, fencing,
 * upgrade refusal and downgrade inside `using`, contended downgrade, writer preference under a
 * stream of readers, separate reentrancy counts.
 */
import assert from 'node:assert/strict';
import { LockUpgradeError } from '../errors.js';
import type { Lock, ReadWriteLock } from '../types.js';
import type { Kit } from './kit.js';
import { eventually, sleep } from './kit.js';

async function readWrite(kit: Kit): Promise<boolean> {
  return (await kit.backend()).shared?.capabilities.readWrite === true;
}

/** Resolves once `rw` has a queued waiter (or at once after a short pause if the backend cannot count them). */
async function queued(kit: Kit, rw: ReadWriteLock): Promise<void> {
  let counted = true;
  await eventually(
    'the writer queued',
    async () => {
      const { waiters } = await rw.inspect();
      counted = waiters !== undefined;
      return waiters === undefined || waiters >= 1;
    },
    kit.timeoutMs / 4,
  );
  if (!counted) await sleep(kit.ttl / 4);
}

export function sharedClientReadWriteSuite(kit: Kit): void {
  const { it } = kit.runner;
  const test = (name: string, fn: () => Promise<void>) => it(name, fn, kit.timeoutMs);

  test('readers share, a writer excludes both ways, and fencing orders writes before later reads', async () => {
    if (!(await readWrite(kit))) return;
    const [a, b, c] = [
      await kit.client({ clientId: 'kit-rw-a' }),
      await kit.client(),
      await kit.client(),
    ];
    const key = kit.key('rw-basic');
    const first = await c.readWriteLock(key).write.acquire();
    await first.release();
    const r1 = await a.readWriteLock(key).read.acquire({ waitTimeoutMs: 0 });
    const r2 = await b.readWriteLock(key).read.acquire({ waitTimeoutMs: 0 });
    assert.ok(r1.fencingToken >= first.fencingToken, 'a read token is at least the last write');
    assert.ok(r2.fencingToken >= first.fencingToken);
    assert.equal(await c.readWriteLock(key).write.tryAcquire(), null, 'readers exclude a writer');
    const info = await c.readWriteLock(key).inspect();
    assert.equal(info.key, key);
    assert.equal(info.writer, null);
    assert.equal(info.readers.length, 2);
    assert.ok(info.readers.some((r) => r.holder === 'kit-rw-a'));
    await r1.release();
    await r2.release();
    const w = await c.readWriteLock(key).write.acquire({ waitTimeoutMs: 0 });
    assert.ok(w.fencingToken > r1.fencingToken && w.fencingToken > r2.fencingToken);
    assert.ok(w.fencingToken > first.fencingToken);
    assert.equal(await a.readWriteLock(key).read.tryAcquire(), null, 'a writer excludes readers');
    assert.equal(await a.readWriteLock(key).write.tryAcquire(), null, 'and writers');
    const held = await a.readWriteLock(key).inspect();
    assert.equal(held.readers.length, 0);
    assert.equal(held.writer?.count, 1);
    await w.release();
    assert.equal((await a.readWriteLock(key).inspect()).writer, null);
  });

  test('upgrade inside read.using is refused at once with LockUpgradeError', async () => {
    if (!(await readWrite(kit))) return;
    const client = await kit.client();
    const rw = client.readWriteLock(kit.key('rw-upgrade'));
    await rw.read.using(async (signal) => {
      await assert.rejects(
        rw.write.acquire({ waitTimeoutMs: Number.POSITIVE_INFINITY }),
        (e: unknown) => LockUpgradeError.isInstance(e),
      );
      await assert.rejects(rw.write.tryAcquire(), (e: unknown) => LockUpgradeError.isInstance(e));
      await assert.rejects(
        rw.write.using(async () => assert.fail('never granted')),
        (e: unknown) => LockUpgradeError.isInstance(e),
      );
      assert.equal(signal.aborted, false, 'the read is kept');
      const info = await rw.inspect();
      assert.equal(info.readers.length, 1);
      assert.equal(info.writer, null);
      if (info.waiters !== undefined) assert.equal(info.waiters, 0, 'nothing queued');
    });
  });

  test('upgrade by the same explicit owner from another client is refused at once by the backend', async () => {
    if (!(await readWrite(kit))) return;
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('rw-upgrade-explicit-owner');
    const read = await a.readWriteLock(key).read.acquire({ owner: 'kit-rw-owner' });
    // Client b holds nothing locally: only the server knows that this owner reads.
    await assert.rejects(
      b.readWriteLock(key).write.acquire({ owner: 'kit-rw-owner', waitTimeoutMs: kit.timeoutMs }),
      (e: unknown) => LockUpgradeError.isInstance(e),
    );
    assert.equal((await b.readWriteLock(key).inspect()).readers.length, 1);
    assert.equal(await read.release(), true);
  });

  test('downgrade inside write.using: the read is granted at once and outlives the write', async () => {
    if (!(await readWrite(kit))) return;
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('rw-downgrade');
    const rw = a.readWriteLock(key);
    const read = await rw.write.using(async (_signal, write) => {
      const r = await rw.read.acquire({ waitTimeoutMs: 0 });
      assert.ok(r.fencingToken >= write.fencingToken);
      const info = await rw.inspect();
      assert.ok(info.writer);
      assert.equal(info.readers.length, 1);
      return r;
    });
    assert.equal(read.held, true, 'the read stays after the write is released');
    const info = await b.readWriteLock(key).inspect();
    assert.equal(info.writer, null);
    assert.equal(info.readers.length, 1);
    assert.equal(await b.readWriteLock(key).write.tryAcquire(), null, 'writers stay out');
    const shared = await b.readWriteLock(key).read.tryAcquire();
    assert.ok(shared, 'other readers share with the downgraded read');
    await shared.release();
    assert.equal(await read.release(), true);
    const w = await b.readWriteLock(key).write.tryAcquire();
    assert.ok(w);
    await w.release();
  });

  test('contended downgrade: a queued writer of another client never gets in between', async () => {
    if (!(await readWrite(kit))) return;
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('rw-contended-downgrade');
    const rw = a.readWriteLock(key);
    const order: string[] = [];
    let other: Promise<Lock> | undefined;
    const read = await rw.write.using(async () => {
      other = b
        .readWriteLock(key)
        .write.acquire({ waitTimeoutMs: kit.timeoutMs })
        .then((lock) => {
          order.push('other write');
          return lock;
        });
      await queued(kit, rw);
      const r = await rw.read.acquire({ waitTimeoutMs: 0 });
      order.push('downgraded');
      return r;
    });
    order.push('write released');
    // The other writer had its chance (release event, re-check) and must still be waiting.
    await sleep(kit.ttl / 2);
    const info = await rw.inspect();
    assert.equal(info.writer, null, 'no writer slipped in between');
    assert.equal(info.readers.length, 1);
    assert.deepEqual(order, ['downgraded', 'write released']);
    await read.release();
    const w = await other!;
    assert.deepEqual(order, ['downgraded', 'write released', 'other write']);
    assert.ok(w.fencingToken > read.fencingToken);
    await w.release();
  });

  test('a queued writer is served while readers of other clients keep overlapping', async () => {
    if (!(await readWrite(kit))) return;
    const [r1, r2, w] = [await kit.client(), await kit.client(), await kit.client()];
    const key = kit.key('rw-writer-preference');
    let writerIn = false;
    let readsAfterWriter = 0;
    // Each loop holds a read for ttl/4 and takes the next one at once, offset by ttl/8, so some
    // reader holds at every instant while they run.
    const readers = [r1, r2].map(async (client, i) => {
      await sleep((i * kit.ttl) / 8);
      while (!writerIn) {
        const lock = await client
          .readWriteLock(key)
          .read.acquire({ waitTimeoutMs: kit.timeoutMs, autoExtend: true });
        if (writerIn) readsAfterWriter++;
        await sleep(kit.ttl / 4);
        await lock.release();
      }
    });
    await eventually(
      'the readers overlap',
      async () => (await w.readWriteLock(key).inspect()).readers.length > 0,
      kit.timeoutMs / 4,
    );
    const write = await w.readWriteLock(key).write.acquire({ waitTimeoutMs: kit.timeoutMs / 2 });
    writerIn = true;
    const info = await w.readWriteLock(key).inspect();
    assert.equal(info.readers.length, 0, 'no reader holds beside the writer');
    await write.release();
    await Promise.all(readers);
    assert.ok(readsAfterWriter <= 2, 'at most the readers that waited behind the writer');
  });

  test('read and write reentrancy counts are separate', async () => {
    if (!(await readWrite(kit))) return;
    const client = await kit.client();
    const rw = client.readWriteLock(kit.key('rw-counts'));
    const counts = async () => {
      const info = await rw.inspect();
      return { write: info.writer?.count ?? 0, read: info.readers[0]?.count ?? 0 };
    };
    await rw.write.using(async (_signal, outer) => {
      await rw.write.using(async (_inner, inner) => {
        assert.equal(inner.fencingToken, outer.fencingToken, 're-entry keeps the token');
        await rw.read.using(async () => {
          await rw.read.using(async () => {
            assert.deepEqual(await counts(), { write: 2, read: 2 });
          });
          assert.deepEqual(await counts(), { write: 2, read: 1 });
        });
        assert.deepEqual(await counts(), { write: 2, read: 0 });
      });
      assert.deepEqual(await counts(), { write: 1, read: 0 });
    });
    assert.deepEqual(await counts(), { write: 0, read: 0 });
  });
}
