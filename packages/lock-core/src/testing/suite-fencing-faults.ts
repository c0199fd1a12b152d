import assert from 'node:assert/strict';
import type { Kit } from './kit.js';

/**
 * [Semantics 6](../../../../docs/guarantees.md#semantics-every-backend-promises) under faults: a key's fencing tokens never repeat or go back, even after the
 * server forgot the key's counter (the adapter's `loseFencingState` fault). Registered only when
 * the adapter provides that fault.
 */
export function fencingFaultsSuite(kit: Kit): void {
  const { it } = kit.runner;
  const lose = async (key: string): Promise<void> => {
    await kit.faults.loseFencingState!(key);
  };

  it('issues a token above every earlier one after the key lost its fencing state', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('fencing-lost');
    const tokens: bigint[] = [];
    const grant = async (client: typeof a): Promise<void> => {
      const lock = await client.acquire(key);
      tokens.push(lock.fencingToken);
      await lock.release();
    };
    await grant(a);
    await grant(b);
    await lose(key);
    await grant(a);
    // Lost again right after a grant: the floor alone must already be above it.
    await lose(key);
    await grant(b);
    await grant(a);
    // Each token above the one before is above every earlier one.
    for (let i = 1; i < tokens.length; i++) {
      assert.ok(
        tokens[i]! > tokens[i - 1]!,
        `token ${tokens[i]} (grant ${i + 1}) is not above ${tokens[i - 1]}: ${tokens.join(', ')}`,
      );
    }
  });

  it('starts a key that never held a lock above the tokens of older keys', async () => {
    const client = await kit.client();
    const old = kit.key('fencing-old');
    const first = await client.acquire(old);
    const token = first.fencingToken;
    await first.release();
    await lose(old);
    const fresh = await client.acquire(kit.key('fencing-new'));
    // Not required by the semantics for different keys, but what a time floor gives: a swap of
    // backends or a wiped server cannot hand a key a token below the ones it issued before.
    assert.ok(fresh.fencingToken > token, `${fresh.fencingToken} is not above ${token}`);
    await fresh.release();
    const again = await client.acquire(old);
    assert.ok(again.fencingToken > token, `${again.fencingToken} is not above ${token}`);
    await again.release();
  });
}
