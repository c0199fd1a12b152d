import assert from 'node:assert/strict';
import { outsideReentryScopes } from '../owner.js';
import type { Kit } from './kit.js';

/** [Semantics 4](../../../../docs/guarantees.md#semantics-every-backend-promises): re-entry within one `using` scope and client, and nowhere else unless asked. */
export function reentrancySuite(kit: Kit): void {
  const { it } = kit.runner;

  it('re-enters the same key inside using(); only the outermost release frees it', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('reentry');
    await a.using(key, async (_signal, outer) => {
      const inner = await a.acquire(key, { waitTimeoutMs: 0 });
      assert.equal(inner.fencingToken, outer.fencingToken);
      assert.equal((await a.inspect(key))?.count, 2);
      const third = await a.tryAcquire(key);
      assert.ok(third, 'tryAcquire should re-enter too');
      assert.equal((await a.inspect(key))?.count, 3);
      assert.equal(await third.release(), true);
      assert.equal(await inner.release(), true);
      assert.equal(await b.tryAcquire(key), null, 'inner releases freed the outer lock');
      assert.equal(outer.held, true);
      // Nested using, and sibling tasks of the scope, re-enter as well.
      await Promise.all([a.using(key, async () => {}), a.using(key, async () => {})]);
      assert.equal((await a.inspect(key))?.count, 1);
    });
    assert.equal(await a.inspect(key), null);
  });

  it('never re-enters for unrelated tasks, other clients or other keys', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('no-reentry');
    const held = await a.acquire(key);
    // Same client, but not inside a using() scope for the key: a different owner.
    assert.equal(await a.tryAcquire(key), null);
    await a.using(kit.key('other'), async () => {
      assert.equal(await a.tryAcquire(key), null);
    });
    await held.release();
    await a.using(key, async () => {
      assert.equal(await b.tryAcquire(key), null, 'another client must not re-enter');
      // A task started elsewhere (outside this scope) has no claim on it.
      assert.equal(await outsideReentryScopes(() => a.tryAcquire(key)), null);
    });
  });

  it('shares a lock between clients that pass the same explicit owner', async () => {
    const [a, b, c] = [await kit.client(), await kit.client(), await kit.client()];
    const key = kit.key('explicit-owner');
    const first = await a.acquire(key, { owner: 'kit-shared-owner' });
    const second = await b.acquire(key, { owner: 'kit-shared-owner', waitTimeoutMs: 0 });
    assert.equal(second.fencingToken, first.fencingToken);
    assert.equal((await c.inspect(key))?.count, 2);
    assert.equal((await c.inspect(key))?.holder, 'kit-shared-owner');
    assert.equal(await c.tryAcquire(key), null);
    await first.release();
    assert.equal(await c.tryAcquire(key), null, 'still held by the second hold');
    await second.release();
    const third = await c.tryAcquire(key);
    assert.ok(third);
    await third.release();
  });
}
