import assert from 'node:assert/strict';
import { LockClosedError, LockTimeoutError, LockUnsupportedError } from '../errors.js';
import type { WaitStrategy } from '../types.js';
import { type Kit, sleep } from './kit.js';

/** [Semantics 7](../../../../docs/guarantees.md#semantics-every-backend-promises): waits end by grant, timeout or abort; a release hands the lock to the next waiter. */
export function waitingSuite(kit: Kit): void {
  const { it } = kit.runner;
  const strategies: readonly WaitStrategy[] = ['native', 'watch', 'poll'];
  const supported = (strategy: WaitStrategy): boolean => {
    const c = kit.capabilities!;
    return strategy === 'poll' || (strategy === 'watch' ? c.watch : c.nativeWait);
  };

  it('tryAcquire and waitTimeoutMs: 0 make one attempt and never wait', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('no-wait');
    const lock = await a.acquire(key);
    assert.equal(await b.tryAcquire(key), null);
    await assert.rejects(b.acquire(key, { waitTimeoutMs: 0 }), (e: unknown) =>
      LockTimeoutError.isInstance(e),
    );
    await lock.release();
    const next = await b.acquire(key, { waitTimeoutMs: 0 });
    await next.release();
  });

  for (const strategy of strategies) {
    it(`[${strategy}] is available exactly when the backend declares it`, async () => {
      const client = await kit.client();
      const key = kit.key(`strategy-${strategy}`);
      if (supported(strategy)) {
        const lock = await client.acquire(key, { strategy });
        await lock.release();
      } else {
        await assert.rejects(client.acquire(key, { strategy }), (e: unknown) =>
          LockUnsupportedError.isInstance(e),
        );
      }
    });

    it(
      `[${strategy}] times out with LockTimeoutError no earlier than waitTimeoutMs`,
      async () => {
        if (!supported(strategy)) return; // covered by the availability test above
        const [a, b] = [await kit.client(), await kit.client()];
        const key = kit.key(`timeout-${strategy}`);
        const lock = await a.acquire(key, { autoExtend: true });
        const started = performance.now();
        const wait = kit.ttl;
        await assert.rejects(b.acquire(key, { waitTimeoutMs: wait, strategy }), (e: unknown) =>
          LockTimeoutError.isInstance(e),
        );
        assert.ok(performance.now() - started >= wait * 0.9, 'gave up early');
        assert.equal(lock.held, true);
        await lock.release();
      },
      kit.timeoutMs,
    );

    it(
      `[${strategy}] rejects with the signal's reason on abort, and the waiter leaves no trace`,
      async () => {
        if (!supported(strategy)) return;
        const [a, b] = [await kit.client(), await kit.client()];
        const key = kit.key(`abort-${strategy}`);
        const lock = await a.acquire(key, { autoExtend: true });
        const controller = new AbortController();
        const reason = new Error('kit: caller gave up');
        const waiting = b.acquire(key, { signal: controller.signal, strategy });
        const behind = b.acquire(key, { strategy, waitTimeoutMs: kit.timeoutMs });
        await sleep(kit.ttl / 4);
        controller.abort(reason);
        await assert.rejects(waiting, (e: unknown) => e === reason);
        await assert.rejects(
          b.acquire(key, { signal: AbortSignal.abort(reason) }),
          (e: unknown) => e === reason,
        );
        await lock.release();
        const next = await behind;
        assert.ok(next.fencingToken > lock.fencingToken);
        await next.release();
      },
      kit.timeoutMs,
    );

    it(
      `[${strategy}] hands the lock to local waiters one at a time, in arrival order`,
      async () => {
        if (!supported(strategy)) return;
        const [a, b] = [await kit.client(), await kit.client()];
        const key = kit.key(`handoff-${strategy}`);
        const first = await a.acquire(key);
        const order: number[] = [];
        const waiters = Array.from({ length: 5 }, (_, i) =>
          b.using(
            key,
            async () => {
              order.push(i);
              await sleep(1);
            },
            { strategy, waitTimeoutMs: kit.timeoutMs },
          ),
        );
        await sleep(kit.ttl / 5);
        await first.release();
        await Promise.all(waiters);
        assert.deepEqual(order, [0, 1, 2, 3, 4]);
      },
      kit.timeoutMs,
    );
  }

  it('ends pending waits with LockClosedError when the client closes', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const key = kit.key('close-wait');
    const lock = await a.acquire(key, { autoExtend: true });
    const waiting = b.acquire(key).catch((e: unknown) => e);
    await sleep(kit.ttl / 5);
    await b.close();
    assert.ok(LockClosedError.isInstance(await waiting));
    await assert.rejects(b.acquire(key), (e: unknown) => LockClosedError.isInstance(e));
    await lock.release();
  });
}
