import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { LockBackend } from '../backend.js';
import { createLockClient } from '../client.js';
import {
  LockArgumentError,
  LockBackendError,
  LockClosedError,
  LockLostError,
  LockTimeoutError,
  LockUnsupportedError,
} from '../errors.js';
import { planKeys } from '../multi/key-plan.js';
import type { LockClient } from '../types.js';
import { eventually, type Kit } from './kit.js';

const isTimeout = (e: unknown) => LockTimeoutError.isInstance(e);

/**
 * [Semantics 9](../../../../docs/guarantees.md#semantics-every-backend-promises): several keys
 * at once (`acquireAll`): one canonical order, all or nothing, one deadline, one handle. Runs on
 * backends with and without `tryAcquireMany` (the core falls back to one key at a time).
 */
export function multiSuite(kit: Kit): void {
  const { it } = kit.runner;
  const test = (name: string, fn: () => Promise<void>) => it(name, fn, kit.timeoutMs);
  // Sets whose expiry is not the subject outlive any stall of a loaded machine.
  const ttlMs = Math.max(30_000, kit.ttl * 20);
  const keys = (label: string, n: number) =>
    Array.from({ length: n }, (_, i) => kit.key(`${label}-${i}`));
  /** Who holds each key as `inspect` sees it (null: free). */
  const holders = async (client: LockClient, list: readonly string[]) =>
    Promise.all(list.map(async (key) => (await client.inspect(key))?.holder ?? null));

  // 100 keys, or as many as a backend that pins a connection per lock can hold at once.
  const size = Math.min(100, kit.maxHeldLocks);
  test(`takes ${size} keys in canonical order, deduplicated, with a token each, and releases them all`, async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const set = keys('hundred', size);
    // Shuffled and repeated: the handle is the same.
    const asked = [...set].reverse().concat(set.slice(0, 10));
    const all = await a.acquireAll(asked, { ttlMs });
    const canonical = [...set].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(
      all.locks.map((lock) => lock.key),
      canonical,
    );
    assert.equal(all.fencingTokens.size, size);
    for (const lock of all.locks) assert.equal(all.fencingTokens.get(lock.key), lock.fencingToken);
    assert.equal(all.held, true);
    assert.ok((await holders(b, set)).every((holder) => holder !== null));
    assert.equal(await b.tryAcquireAll([set.at(-1)!, kit.key('hundred-free')]), null);
    assert.equal(await b.inspect(kit.key('hundred-free')), null, 'the free key was left free');
    assert.equal(await all.release(), true);
    assert.equal(all.held, false);
    assert.equal(await all.release(), false, 'a second release finds nothing');
    assert.ok((await holders(b, set)).every((holder) => holder === null));
    const again = await b.tryAcquireAll(set);
    assert.ok(again, 'the keys are free for others');
    await again.release();
  });

  test('two clients taking the same keys in opposite orders never deadlock, and exclude each other', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const set = keys('opposite', 3);
    const inside = new Map<string, number>();
    let overlaps = 0;
    const loop = async (client: LockClient, order: readonly string[]) => {
      for (let round = 0; round < 40; round++) {
        // Generous: a deadlock would hang until this runs out, and fail.
        const all = await client.acquireAll(order, { ttlMs, waitTimeoutMs: kit.timeoutMs / 2 });
        for (const key of set) {
          if (inside.get(key)) overlaps++;
          inside.set(key, 1);
        }
        await new Promise((resolve) => setImmediate(resolve));
        for (const key of set) inside.set(key, 0);
        await all.release();
      }
    };
    await Promise.all([loop(a, set), loop(b, [...set].reverse())]);
    assert.equal(overlaps, 0, 'two sets held the same key at once');
  });

  test('a zero wait with one key busy rejects or returns null, leaving no key of the set held', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const set = keys('zero', 5);
    const busy = await b.acquire(set[2]!, { ttlMs: 30_000 });
    const before = await holders(a, set);
    await assert.rejects(a.acquireAll(set, { waitTimeoutMs: 0 }), isTimeout);
    assert.deepEqual(await holders(a, set), before);
    assert.equal(await a.tryAcquireAll(set), null);
    assert.deepEqual(await holders(a, set), before);
    assert.deepEqual(
      before.map((holder) => holder !== null),
      [false, false, true, false, false],
    );
    await busy.release();
    const all = await a.tryAcquireAll(set, { ttlMs });
    assert.ok(all);
    assert.equal(await all.release(), true);
  });

  test('waitTimeoutMs bounds the whole set: LockTimeoutError names the key waited for, nothing stays held', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const set = keys('deadline', 4);
    const last = [...set].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))[3]!;
    const busy = await b.acquire(last, { ttlMs: 60_000 });
    const wait = kit.ttl;
    await assert.rejects(a.acquireAll(set, { waitTimeoutMs: wait }), (e: unknown) => {
      assert.ok(isTimeout(e));
      assert.equal(e.key, last);
      assert.equal(e.waitTimeoutMs, wait, 'the whole set’s wait, not what was left of it');
      return true;
    });
    assert.deepEqual(
      (await holders(a, set)).map((holder) => holder !== null),
      set.map((key) => key === last),
    );
    await busy.release();
  });

  test('a waiting set takes the busy key once it is released, and an abort gives back what it took', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    // In the order the core takes them (on Redis Cluster: by slot, then key), so that the
    // first is taken before the wait for the busy second.
    const set = planKeys(keys('wait', 3), await kit.backend()).batches.flat();
    const busy = await b.acquire(set[1]!, { ttlMs: 60_000 });
    const controller = new AbortController();
    // The set's first key is granted to this client before it waits for the busy one (the
    // client's own event: the server may show the grant before its answer arrives here).
    const firstTaken = new Promise<void>((resolve) => {
      const onEnd = (message: unknown) => {
        const m = message as { key?: string; acquired?: boolean };
        if (m.key !== set[0] || !m.acquired) return;
        unsubscribe('dlock:acquire:end', onEnd);
        resolve();
      };
      subscribe('dlock:acquire:end', onEnd);
    });
    const aborted = a.acquireAll(set, { ttlMs, signal: controller.signal });
    const reason = new Error('stop');
    await firstTaken;
    controller.abort(reason);
    await assert.rejects(aborted, (e: unknown) => e === reason);
    assert.deepEqual(
      (await holders(a, set)).map((holder) => holder !== null),
      [false, true, false],
    );
    const waiting = a.acquireAll(set, { ttlMs, waitTimeoutMs: kit.timeoutMs / 2 });
    await busy.release();
    const all = await waiting;
    assert.equal(all.held, true);
    await all.release();
  });

  test('the set’s signal aborts with the LockLostError of the first member lost', async () => {
    const a = await kit.client();
    const set = keys('lost', 2);
    const all = await a.acquireAll(set, { ttlMs: kit.ttl });
    // The first member lives on; the second expires (nobody renews it).
    await all.locks[0]!.extend(kit.ttl * 40);
    const reason = await new Promise<unknown>((resolve) => {
      if (all.signal.aborted) resolve(all.signal.reason);
      all.signal.addEventListener('abort', () => resolve(all.signal.reason), { once: true });
    });
    assert.ok(LockLostError.isInstance(reason));
    assert.equal(reason.key, all.locks[1]!.key);
    assert.equal(all.held, false);
    assert.equal(all.locks[0]!.held, true);
    // The signal fires on the client's conservative estimate, which may end before the server's
    // expiry (Redlock's drift allowance): only once the server let it go is it surely gone.
    await eventually(
      'the member expired on the server',
      async () => (await a.inspect(all.locks[1]!.key)) === null,
      kit.ttl * 4,
    );
    assert.equal(await all.release(), false, 'one member was gone already');
    assert.equal(await a.inspect(all.locks[0]!.key), null);
  });

  test('release() tries every member and reports the backend failures in an AggregateError', async () => {
    const set = keys('partial', 3);
    const failing = set[1]!;
    const backend = failingRelease(await kit.backend(), failing);
    // The member whose release fails stays held until its TTL: short, but not within the test.
    const a = createLockClient(backend, { ttlMs: kit.ttl * 10 });
    const b = await kit.client();
    try {
      const all = await a.acquireAll(set);
      await assert.rejects(all.release(), (e: unknown) => {
        assert.ok(e instanceof AggregateError);
        assert.equal(e.errors.length, 1);
        assert.ok(LockBackendError.isInstance(e.errors[0]));
        return true;
      });
      assert.deepEqual(
        (await holders(b, set)).map((holder) => holder !== null),
        [false, true, false],
        'the other members were released',
      );
      // Not left held for the rest of the run where the backend can drop it.
      await b.forceRelease(failing).catch((e: unknown) => {
        if (!LockUnsupportedError.isInstance(e)) throw e;
      });
    } finally {
      await a.close();
    }
  });

  test('re-entry: inside using() a member re-enters; a key held outside any scope is another owner', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const set = keys('reentry', 3);
    await a.using(set[1]!, async (_signal, outer) => {
      const all = await a.acquireAll(set, { ttlMs, waitTimeoutMs: 0 });
      assert.equal(all.fencingTokens.get(set[1]!), outer.fencingToken);
      assert.equal((await b.inspect(set[1]!))?.count, 2);
      assert.equal(await all.release(), true);
      assert.equal((await b.inspect(set[1]!))?.count, 1, 'the outer hold remains');
      assert.equal(outer.held, true);
      assert.equal(await b.inspect(set[0]!), null);
    });
    const plain = await a.acquire(set[1]!, { ttlMs });
    await assert.rejects(a.acquireAll(set, { waitTimeoutMs: 0 }), isTimeout);
    assert.equal(await b.inspect(set[0]!), null);
    await plain.release();
  });

  test('bad input is refused before any I/O; a closed client refuses with LockClosedError', async () => {
    const a = await kit.client();
    const bad = (e: unknown) => LockArgumentError.isInstance(e);
    const key = kit.key('inputs');
    await assert.rejects(a.acquireAll([]), bad);
    await assert.rejects(a.acquireAll('k' as never), bad);
    await assert.rejects(a.acquireAll([key, '']), bad);
    await assert.rejects(a.tryAcquireAll([key, 7 as never]), bad);
    await assert.rejects(a.acquireAll([key], { owner: 'x' } as never), bad);
    await assert.rejects(a.acquireAll([key], { waitTimeoutMs: -1 }), bad);
    await assert.rejects(a.tryAcquireAll([key], { waitTimeoutMs: 5 } as never), bad);
    const tooMany = Array.from({ length: 10_001 }, (_, i) => `${key}-${i}`);
    await assert.rejects(a.acquireAll(tooMany), bad);
    assert.equal(await a.inspect(key), null);
    await a.close();
    await assert.rejects(a.acquireAll([key]), (e: unknown) => LockClosedError.isInstance(e));
  });
}

/** `backend`, except that releasing `key` fails as a server would (for the partial-failure test). */
function failingRelease(backend: LockBackend, key: string): LockBackend {
  return new Proxy(backend, {
    get(target, property) {
      if (property === 'release') {
        return (request: { key: string }) =>
          request.key === key
            ? Promise.reject(new Error('injected release failure'))
            : target.release(request as never);
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
