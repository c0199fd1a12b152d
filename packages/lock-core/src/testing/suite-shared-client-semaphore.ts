/**
 * Client-level semaphores through `createLockClient`: the history of many holders, the watchdog,
 * expiry of a holder that stops renewing, permits, inspect, abort while queued, stored limits.
 */
import assert from 'node:assert/strict';
import { LockLimitError, LockLostError } from '../errors.js';
import type { Kit } from './kit.js';
import { eventually, sleep } from './kit.js';

/** Whether the backend under test gives semaphores of `limit`. */
export async function semaphoresUpTo(kit: Kit, limit: number): Promise<boolean> {
  const shared = (await kit.backend()).shared;
  return shared !== undefined && shared.capabilities.maxSemaphoreLimit >= limit;
}

export function sharedClientSemaphoreSuite(kit: Kit): void {
  const { it } = kit.runner;
  const test = (name: string, fn: () => Promise<void>) => it(name, fn, kit.timeoutMs);

  test('many tasks of several clients against limit N: at most N hold at once, and N do', async () => {
    const limit = 3;
    if (!(await semaphoresUpTo(kit, limit))) return;
    const clients = [await kit.client(), await kit.client(), await kit.client()];
    const key = kit.key('sem-history');
    let active = 0;
    let most = 0;
    let release!: () => void;
    // The first N holders wait for each other: the test hangs (and fails) unless N get in at once.
    const allIn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tasks = Array.from({ length: limit * 4 }, (_, i) =>
      clients[i % clients.length]!.semaphore(key, { limit }).using(
        async (signal) => {
          active++;
          most = Math.max(most, active);
          assert.ok(active <= limit, `${active} holders of ${limit} permits`);
          if (active === limit) release();
          await allIn;
          await sleep(1);
          assert.equal(signal.aborted, false);
          active--;
        },
        { waitTimeoutMs: kit.timeoutMs },
      ),
    );
    await Promise.all(tasks);
    assert.equal(most, limit, 'N holders were reached');
    const info = await clients[0]!.semaphore(key, { limit }).inspect();
    assert.equal(info.available, limit);
    assert.deepEqual(info.holders, []);
  });

  test('using() keeps a permit with the watchdog for several TTLs', async () => {
    if (!(await semaphoresUpTo(kit, 1))) return;
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('sem-watchdog');
    await a.semaphore(key, { limit: 1 }).using(async (signal, permit) => {
      const token = permit.fencingToken;
      for (let i = 0; i < 6; i++) {
        await sleep(kit.ttl / 2);
        assert.equal(
          await b.semaphore(key, { limit: 1 }).tryAcquire(),
          null,
          `lost after ${((i + 1) / 2).toFixed(1)} TTLs`,
        );
      }
      assert.equal(signal.aborted, false);
      assert.equal(permit.fencingToken, token);
      assert.ok(permit.held);
    });
    const next = await b.semaphore(key, { limit: 1 }).tryAcquire();
    assert.ok(next, 'released after using()');
    await next.release();
  });

  test('a holder that stops renewing loses its permit after its TTL, and its signal aborts', async () => {
    if (!(await semaphoresUpTo(kit, 1))) return;
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('sem-expiry');
    const stale = await a.semaphore(key, { limit: 1 }).acquire({ ttlMs: kit.ttl });
    const fresh = await b
      .semaphore(key, { limit: 1 })
      .acquire({ waitTimeoutMs: kit.ttl * 20, autoExtend: true });
    assert.ok(fresh.fencingToken > stale.fencingToken);
    await eventually('the stale permit knows it is lost', () => stale.signal.aborted, kit.ttl * 2);
    assert.ok(LockLostError.isInstance(stale.signal.reason));
    assert.equal(stale.held, false);
    assert.equal(await stale.release(), false, 'a late release frees nothing');
    assert.equal(await a.semaphore(key, { limit: 1 }).tryAcquire(), null, 'and gives nothing back');
    assert.equal(await fresh.release(), true);
  });

  test('permits: taken atomically, counted by inspect, refused when not all are free', async () => {
    if (!(await semaphoresUpTo(kit, 3))) return;
    const [a, b] = [await kit.client({ clientId: 'kit-sem-a' }), await kit.client()];
    const key = kit.key('sem-permits');
    const semA = a.semaphore(key, { limit: 3 });
    const semB = b.semaphore(key, { limit: 3 });
    const empty = await semB.inspect();
    assert.equal(empty.key, key);
    assert.equal(empty.limit, 3);
    assert.equal(empty.available, 3);
    assert.deepEqual(empty.holders, []);
    const two = await semA.tryAcquire({ permits: 2 });
    assert.ok(two);
    assert.equal(two.permits, 2);
    assert.equal(await semB.tryAcquire({ permits: 2 }), null, '2 asked, 1 free');
    const info = await semB.inspect();
    assert.equal(info.limit, 3);
    assert.equal(info.available, 1, 'the refusal took nothing');
    assert.equal(info.holders.length, 1);
    const [holder] = info.holders;
    assert.equal(holder?.holder, 'kit-sem-a', 'inspect shows the public client id');
    assert.equal(holder?.permits, 2);
    assert.equal(holder?.count, 1);
    assert.ok(holder!.expiresAt > Date.now());
    if (holder?.fencingToken !== undefined) assert.equal(holder.fencingToken, two.fencingToken);
    const one = await semB.tryAcquire();
    assert.ok(one, 'the free permit');
    assert.ok(one.fencingToken > two.fencingToken);
    assert.equal((await semA.inspect()).available, 0);
    await two.release();
    await one.release();
    const all = await semB.acquire({ permits: 3, waitTimeoutMs: 0 });
    assert.equal(all.permits, 3);
    await all.release();
  });

  test('abort while queued rejects with the reason and leaves no waiter entry and no lease', async () => {
    if (!(await semaphoresUpTo(kit, 2))) return;
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('sem-abort');
    const full = await a.semaphore(key, { limit: 2 }).acquire({ permits: 2, autoExtend: true });
    const controller = new AbortController();
    const reason = new Error('kit: caller gave up');
    const waiting = b
      .semaphore(key, { limit: 2 })
      // A waiter lease far longer than the test: its entry must go with the abort, not lapse.
      .acquire({
        signal: controller.signal,
        waitTimeoutMs: Number.POSITIVE_INFINITY,
        ttlMs: 60_000,
      });
    const semA = a.semaphore(key, { limit: 2 });
    let counted = true;
    await eventually(
      'the waiter queued',
      async () => {
        const { waiters } = await semA.inspect();
        counted = waiters !== undefined;
        return waiters === undefined || waiters === 1;
      },
      kit.timeoutMs / 4,
    );
    // A backend that cannot count waiters: give the wait time to start.
    if (!counted) await sleep(kit.ttl / 4);
    controller.abort(reason);
    await assert.rejects(waiting, (e: unknown) => e === reason);
    await eventually(
      'no waiter entry is left',
      async () => {
        const { waiters } = await semA.inspect();
        return waiters === undefined || waiters === 0;
      },
      kit.timeoutMs / 4,
    );
    await full.release();
    const info = await semA.inspect();
    assert.deepEqual(info.holders, [], 'the aborted waiter holds nothing');
    assert.equal(info.available, 2);
    const next = await b.semaphore(key, { limit: 2 }).tryAcquire({ permits: 2 });
    assert.ok(next, 'nothing of the aborted waiter blocks the next caller');
    await next.release();
  });

  test('a different limit is a LockLimitError unless changeLimit', async () => {
    if (!(await semaphoresUpTo(kit, 3))) return;
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('sem-limit');
    const held = await a.semaphore(key, { limit: 2 }).acquire();
    await assert.rejects(b.semaphore(key, { limit: 3 }).tryAcquire(), (e: unknown) =>
      LockLimitError.isInstance(e),
    );
    await assert.rejects(
      b.semaphore(key, { limit: 3 }).acquire({ waitTimeoutMs: kit.ttl }),
      (e: unknown) => LockLimitError.isInstance(e),
    );
    const changed = await b.semaphore(key, { limit: 3, changeLimit: true }).tryAcquire();
    assert.ok(changed);
    assert.equal((await a.semaphore(key, { limit: 3 }).inspect()).limit, 3);
    await held.release();
    await changed.release();
  });
}
