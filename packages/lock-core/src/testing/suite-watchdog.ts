import assert from 'node:assert/strict';
import { LockLostError } from '../errors.js';
import type { Lock } from '../types.js';
import { eventually, type Kit, sleep } from './kit.js';

/** [Semantics 5](../../../../docs/guarantees.md#semantics-every-backend-promises): a live holder keeps its lock; a holder that cannot renew learns it in time. */
export function watchdogSuite(kit: Kit): void {
  const { it } = kit.runner;

  it(
    'keeps a lock held by using() for many TTLs',
    async () => {
      const [a, b] = [await kit.client(), await kit.client()];
      const key = kit.key('watchdog-keep');
      await a.using(key, async (signal, lock) => {
        const token = lock.fencingToken;
        for (let i = 0; i < 8; i++) {
          await sleep(kit.ttl / 2);
          assert.equal(
            await b.tryAcquire(key),
            null,
            `lost after ${((i + 1) / 2).toFixed(1)} TTLs`,
          );
        }
        assert.equal(signal.aborted, false);
        assert.equal(lock.fencingToken, token);
        assert.ok(lock.expiresAt > Date.now());
      });
    },
    kit.timeoutMs,
  );

  it(
    'reports a lock taken away from under the watchdog through signal and onLost, within the TTL',
    async () => {
      const a = await kit.client();
      const backend = await kit.backend();
      const key = kit.key('watchdog-lost');
      const lost: [LockLostError, Lock][] = [];
      const lock = await a.acquire(key, {
        owner: 'kit-watchdog-owner',
        autoExtend: true,
        onLost: (error, l) => lost.push([error, l]),
      });
      // Simulate the lock vanishing on the server (expired during a pause, deleted by an operator).
      assert.equal(await backend.release({ key, owner: 'kit-watchdog-owner' }), 'released');
      await eventually('lock.signal aborts', () => lock.signal.aborted, kit.ttl * 2);
      assert.ok(LockLostError.isInstance(lock.signal.reason));
      assert.equal((lock.signal.reason as LockLostError).reason, 'not-held');
      assert.equal(lost.length, 1);
      assert.equal(lost[0]![1], lock);
      assert.equal(lock.held, false);
      assert.equal(await lock.release(), false);
    },
    kit.timeoutMs,
  );

  it(
    'stops renewing at maxHoldMs and reports it as a loss',
    async () => {
      const [a, b] = [await kit.client(), await kit.client()];
      const key = kit.key('max-hold');
      const lock = await a.acquire(key, { autoExtend: true, maxHoldMs: kit.ttl * 2 });
      await eventually('max-hold loss', () => lock.signal.aborted, kit.ttl * 6);
      assert.equal((lock.signal.reason as LockLostError).reason, 'max-hold');
      const next = await b.acquire(key, { waitTimeoutMs: kit.ttl * 4 });
      await next.release();
    },
    kit.timeoutMs,
  );
}
