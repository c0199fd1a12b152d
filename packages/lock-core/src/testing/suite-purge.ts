import assert from 'node:assert/strict';
import { LockUnsupportedError } from '../errors.js';
import type { Kit } from './kit.js';

/**
 * `purge(key)`: what a free key left on the server is deleted, a held key is left alone, and the
 * key's later tokens still exceed every earlier one. A backend without the operation must say so
 * with `LockUnsupportedError`.
 */
export function purgeSuite(kit: Kit): void {
  const { it } = kit.runner;

  it('purges a free key (later tokens still rise) and leaves a held one alone', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    if (typeof (await kit.backend()).purge !== 'function') {
      // No purge: the client says so, as a bad call, before any I/O.
      await assert.rejects(a.purge(kit.key('purge')), (e) => LockUnsupportedError.isInstance(e));
      return;
    }
    const key = kit.key('purge');
    const first = await a.acquire(key);
    assert.equal(await b.purge(key), false, 'purge() of a held key must delete nothing');
    assert.ok(await b.inspect(key), 'the held lock survived purge()');
    await first.extend(); // still ours: throws LockNotHeldError otherwise
    assert.equal(await first.release(), true);
    assert.equal(await b.purge(key), true);
    assert.equal(await b.purge(key), true, 'purge() of a purged key: nothing left either');
    const second = await b.acquire(key);
    assert.ok(
      second.fencingToken > first.fencingToken,
      `token ${second.fencingToken} after purge() is not above ${first.fencingToken}`,
    );
    await second.release();
  });
}
