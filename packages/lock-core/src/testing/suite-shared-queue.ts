/**
 * Shared-key SPI, the waiter queue: strict FIFO among owners, waiter leases, abandon, the
 * refusal's retry bound, and watch events (capability watch). Checked on semaphores.
 */
import assert from 'node:assert/strict';
import type { SharedBackend } from '../backend.js';
import { eventually } from './kit.js';
import {
  assertWaiters,
  granted,
  newOwner,
  refused,
  type SharedSpiContext,
  semaphoreRequest as sem,
} from './shared-spi-context.js';

async function pair(ctx: SharedSpiContext): Promise<[SharedBackend, SharedBackend] | undefined> {
  const a = await ctx.shared();
  const b = await ctx.shared();
  if (!a || !b || a.capabilities.maxSemaphoreLimit < 2) return undefined;
  return [a, b];
}

export function sharedQueueSuite(ctx: SharedSpiContext): void {
  const { test, shortTtl } = ctx;

  test('a queued request blocks later requests of other owners that would fit (FIFO); its grant removes its entry', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('queue-fifo');
    const first = newOwner();
    const second = newOwner();
    granted(await a.tryAcquire(sem(k, first, 2)));
    granted(await a.tryAcquire(sem(k, second, 2)));
    const big = newOwner();
    const bigRequest = sem(k, big, 2, { permits: 2, queue: true });
    const queued = await b.tryAcquire(bigRequest);
    refused(queued, 'two asked, none free');
    if (!queued.acquired) {
      assert.ok(queued.retryAfterMs !== undefined, 'a queued refusal bounds the re-check');
      assert.ok(
        queued.retryAfterMs <= bigRequest.ttlMs / 3,
        `retryAfterMs ${queued.retryAfterMs} <= ttl/3, so the re-check keeps the entry alive`,
      );
    }
    assertWaiters(await a.inspect('semaphore', k), 1, 'the refused request queued');
    assert.equal(await a.release({ key: k, owner: first, kind: 'semaphore' }), 'released');
    // One permit is free, but the queued two-permit request came first.
    refused(await a.tryAcquire(sem(k, newOwner(), 2)), 'a later single permit waits its turn');
    refused(
      await a.tryAcquire(sem(k, newOwner(), 2, { queue: true })),
      'a later queued single permit waits too',
    );
    assertWaiters(await a.inspect('semaphore', k), 2, 'tryAcquire left no entry, acquire did');
    refused(await b.tryAcquire(bigRequest), 'still one permit short');
    assertWaiters(await a.inspect('semaphore', k), 2, 'the retry refreshed its entry, no new one');
    assert.equal(await a.release({ key: k, owner: second, kind: 'semaphore' }), 'released');
    const grant = await b.tryAcquire(bigRequest);
    granted(grant, 'the head of the queue fits now');
    const state = await a.inspect('semaphore', k);
    assertWaiters(state, 1, 'the grant removed its entry');
    assert.deepEqual(
      state?.holders.map((h) => h.owner),
      [big],
    );
    assert.equal(await b.release({ key: k, owner: big, kind: 'semaphore' }), 'released');
  });

  test('a queue entry lapses after its ttl, and the requests it blocked fit again', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('queue-lapse');
    const holder = newOwner();
    granted(await a.tryAcquire(sem(k, holder, 2, { ttlMs: 60_000 })));
    refused(
      await b.tryAcquire(sem(k, newOwner(), 2, { permits: 2, queue: true, ttlMs: shortTtl })),
    );
    refused(await a.tryAcquire(sem(k, newOwner(), 2)), 'blocked by the queued request');
    const late = newOwner();
    await ctx.lapse(shortTtl, 'the dead waiter stopped blocking', async () => {
      return (await a.tryAcquire(sem(k, late, 2))).acquired;
    });
    assertWaiters(await a.inspect('semaphore', k), 0, 'the lapsed entry is gone');
    await a.release({ key: k, owner: holder, kind: 'semaphore' });
    await a.release({ key: k, owner: late, kind: 'semaphore' });
  });

  test('abandon removes the entry (idempotent), lets the blocked request in, and never touches a lease', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('queue-abandon');
    const holder = newOwner();
    granted(await a.tryAcquire(sem(k, holder, 2)));
    const waiter = newOwner();
    refused(await b.tryAcquire(sem(k, waiter, 2, { permits: 2, queue: true })));
    refused(await a.tryAcquire(sem(k, newOwner(), 2)), 'blocked by the queued request');
    assert.equal(await b.abandon({ key: k, owner: waiter, kind: 'semaphore' }), true);
    assert.equal(await b.abandon({ key: k, owner: waiter, kind: 'semaphore' }), false);
    assertWaiters(await a.inspect('semaphore', k), 0, 'abandon removed the entry');
    const next = newOwner();
    granted(await a.tryAcquire(sem(k, next, 2)), 'the blocked request fits again');
    assert.equal(await a.abandon({ key: k, owner: holder, kind: 'semaphore' }), false);
    assert.equal((await b.inspect('semaphore', k))?.holders.length, 2, 'abandon kept the leases');
    await a.release({ key: k, owner: holder, kind: 'semaphore' });
    await a.release({ key: k, owner: next, kind: 'semaphore' });
    assert.equal(await a.inspect('semaphore', k), null);
  });

  test('inspect is not null while only a waiter is left, and null once it abandons', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [a, b] = backends;
    const k = ctx.key('queue-only-waiter');
    const holder = newOwner();
    const waiter = newOwner();
    granted(await a.tryAcquire(sem(k, holder, 2, { permits: 2 })));
    refused(await b.tryAcquire(sem(k, waiter, 2, { queue: true })));
    await a.release({ key: k, owner: holder, kind: 'semaphore' });
    const state = await a.inspect('semaphore', k);
    assert.ok(state, 'a waiter is left');
    assert.equal(state.holders.length, 0);
    assert.equal(state.limit, 2, 'the limit is stored while anyone waits');
    assertWaiters(state, 1, 'one waiter');
    await b.abandon({ key: k, owner: waiter, kind: 'semaphore' });
    assert.equal(await a.inspect('semaphore', k), null);
  });

  test('watch (capability watch) fires on release and on abandon', async () => {
    const backends = await pair(ctx);
    if (!backends) return;
    const [holderSide, watcher] = backends;
    if (!watcher.capabilities.watch || !watcher.watch) return;
    const k = ctx.key('queue-watch');
    const holder = newOwner();
    granted(await holderSide.tryAcquire(sem(k, holder, 2, { permits: 2 })));
    let calls = 0;
    const handle = await watcher.watch('semaphore', k, () => {
      calls++;
    });
    const waiter = newOwner();
    refused(await watcher.tryAcquire(sem(k, waiter, 2, { permits: 2, queue: true })));
    const second = newOwner();
    refused(await watcher.tryAcquire(sem(k, second, 2, { queue: true })));
    calls = 0;
    assert.equal(
      await holderSide.release({ key: k, owner: holder, kind: 'semaphore' }),
      'released',
    );
    await eventually('the release was announced', () => calls > 0, 5_000);
    calls = 0;
    // The head gives up: the single permit behind it fits now.
    assert.equal(await watcher.abandon({ key: k, owner: waiter, kind: 'semaphore' }), true);
    await eventually('the abandon was announced', () => calls > 0, 5_000);
    await handle.close();
    await handle.close(); // idempotent
    await watcher.abandon({ key: k, owner: second, kind: 'semaphore' });
  });
}
