import assert from 'node:assert/strict';
import type { Kit } from './kit.js';

/** [Semantics 1 and 6](../../../../docs/guarantees.md#semantics-every-backend-promises): one holder at a time; fencing tokens strictly increase across holders. */
export function exclusionSuite(kit: Kit): void {
  const { it } = kit.runner;

  it(
    'excludes 50 concurrent tasks on 5 clients doing read-yield-write on a shared counter',
    async () => {
      const clients = await Promise.all(Array.from({ length: 5 }, () => kit.client()));
      const key = kit.key('exclusion');
      let counter = 0;
      let inside = 0;
      let maxInside = 0;
      const tokens: bigint[] = [];
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          clients[i % clients.length]!.using(
            key,
            async (_signal, lock) => {
              inside++;
              maxInside = Math.max(maxInside, inside);
              tokens.push(lock.fencingToken);
              const seen = counter;
              await new Promise((resolve) => setImmediate(resolve));
              await Promise.resolve();
              counter = seen + 1;
              inside--;
            },
            { waitTimeoutMs: kit.timeoutMs },
          ),
        ),
      );
      assert.equal(maxInside, 1, 'two tasks were inside the critical section at once');
      assert.equal(counter, 50, 'an update was lost');
      for (let i = 1; i < tokens.length; i++) {
        assert.ok(
          tokens[i]! > tokens[i - 1]!,
          `fencing token ${tokens[i]} did not exceed ${tokens[i - 1]}`,
        );
      }
    },
    kit.timeoutMs,
  );

  it('issues strictly increasing fencing tokens across clients, and re-entry keeps the token', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('fencing');
    const tokens: bigint[] = [];
    for (let i = 0; i < 6; i++) {
      const lock = await (i % 2 ? a : b).acquire(key);
      tokens.push(lock.fencingToken);
      assert.equal(typeof lock.fencingToken, 'bigint');
      await lock.release();
    }
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!);
    await a.using(key, async (_s, outer) => {
      const inner = await a.acquire(key);
      assert.equal(inner.fencingToken, outer.fencingToken);
      assert.ok(outer.fencingToken > tokens.at(-1)!);
      await inner.release();
    });
  });
}
