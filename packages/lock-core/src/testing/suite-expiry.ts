import assert from 'node:assert/strict';
import { LockError, LockLostError, LockNotHeldError } from '../errors.js';
import type { Kit } from './kit.js';

/** [Semantics 2 and 3](../../../../docs/guarantees.md#semantics-every-backend-promises): abandoned locks expire; only the holder's token releases or extends. */
export function expirySuite(kit: Kit): void {
  const { it } = kit.runner;

  it(
    'lets another owner in after an abandoned lock expires; the stale handle can neither release nor extend it',
    async () => {
      const [a, b] = [await kit.client(), await kit.client()];
      const key = kit.key('expiry');
      const started = performance.now();
      const stale = await a.acquire(key, { ttlMs: kit.ttl });
      const fresh = await b.acquire(key, { waitTimeoutMs: kit.ttl * 20 });
      // The server granted `stale` after `started`, so it cannot have expired before started + ttl.
      assert.ok(performance.now() - started >= kit.ttl * 0.9, 'acquired before the TTL ran out');
      assert.ok(fresh.fencingToken > stale.fencingToken);
      assert.equal(stale.signal.aborted, true, 'the abandoned handle should know it lost the lock');
      assert.ok(LockLostError.isInstance(stale.signal.reason));
      await assert.rejects(stale.extend(), (e: unknown) => LockNotHeldError.isInstance(e));
      assert.equal(await stale.release(), false);
      const info = await b.inspect(key);
      assert.ok(info, 'the stale release must not free the new holder');
      assert.equal(await fresh.release(), true);
      assert.equal(await b.inspect(key), null);
    },
    kit.timeoutMs,
  );

  it('refuses foreign owners at the backend: release and extend change nothing', async () => {
    const client = await kit.client();
    const backend = await kit.backend();
    const key = kit.key('foreign');
    const lock = await client.acquire(key, { owner: 'kit-owner-a' });
    assert.equal(await backend.release({ key, owner: 'kit-owner-b' }), 'not-held');
    assert.equal(await backend.extend({ key, owner: 'kit-owner-b', ttlMs: kit.ttl }), false);
    const state = await backend.inspect(key);
    assert.equal(state?.owner, 'kit-owner-a');
    assert.equal(
      await backend.release({ key: kit.key('never-held'), owner: 'kit-owner-a' }),
      'not-held',
    );
    assert.equal(
      await backend.extend({ key: kit.key('never-held'), owner: 'kit-owner-a', ttlMs: 1000 }),
      false,
    );
    assert.equal(await lock.release(), true);
    assert.equal(await lock.release(), false, 'a second release is a no-op');
  });

  it('extend() renews a held lock and never revives an expired one', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('extend');
    const lock = await a.acquire(key, { ttlMs: kit.ttl });
    const before = lock.expiresAt;
    await new Promise((resolve) => setTimeout(resolve, kit.ttl / 2));
    await lock.extend(kit.ttl * 4);
    assert.ok(lock.expiresAt > before);
    await new Promise((resolve) => setTimeout(resolve, kit.ttl));
    assert.equal(await b.tryAcquire(key), null, 'the extension did not hold');
    await lock.release();
    await assert.rejects(
      lock.extend(),
      (e: unknown) => LockError.isInstance(e) && e.code === 'DLOCK_NOT_HELD',
    );
    assert.equal(await b.inspect(key), null, 'extend after release re-created the lock');
  });

  it(
    'extend() to less than what is left shortens the lock: the next owner need not wait out the first TTL',
    async () => {
      const [a, b] = [await kit.client(), await kit.client()];
      const key = kit.key('shorten');
      const lock = await a.acquire(key, { ttlMs: kit.ttl * 4 });
      await lock.extend(kit.ttl);
      assert.ok(lock.expiresAt <= Date.now() + kit.ttl, 'the estimate kept the longer lease');
      // Unshortened, the first lease would outlast this wait.
      const next = await b.acquire(key, { waitTimeoutMs: kit.ttl * 3 });
      assert.ok(next.fencingToken > lock.fencingToken);
      assert.equal(lock.held, false);
      await next.release();
    },
    kit.timeoutMs,
  );
}
