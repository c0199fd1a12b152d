import {
  channels,
  createLockClient,
  type LockClient,
  LockClosedError,
  LockLostError,
  LockQueueFullError,
  LockTimeoutError,
  MemoryStore,
  memoryBackend,
} from '@dlock/lock-core';
import { afterEach, describe, expect, it } from 'vitest';
import { ATTR, METRIC, SPAN } from '../src/index.js';
import { CHANNELS } from '../src/names.js';
import { type Harness, startHarness } from './harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.shutdown();
  harness = undefined;
});

describe('@dlock/otel on the memory backend', () => {
  it('subscribes to the channels lock-core publishes on, and only while enabled', async () => {
    expect(Object.values(CHANNELS).sort()).toEqual(
      [channels.acquireEnd, channels.extend, channels.lost, channels.release]
        .map((c) => String(c.name))
        .sort(),
    );
    expect(channels.acquireEnd.hasSubscribers).toBe(false);
    harness = startHarness();
    expect(channels.acquireEnd.hasSubscribers).toBe(true);
    harness.instrumentation.disable();
    harness.instrumentation.disable();
    // Nobody listens: lock-core builds no message at all.
    expect(channels.acquireEnd.hasSubscribers).toBe(false);
    expect(channels.release.hasSubscribers).toBe(false);
  });

  it('emits a wait span and a hold span per lock, and the metrics, never the owner token', async () => {
    harness = startHarness();
    const locks = createLockClient(memoryBackend());
    const lock = await locks.acquire('orders:42', { owner: 'svc-a#s3cret-token', ttlMs: 5_000 });
    expect(await harness.sum(METRIC.holds)).toBe(1);
    await lock.release();
    expect(await harness.sum(METRIC.holds)).toBe(0);

    const [wait] = harness.spans(SPAN.wait);
    expect(wait?.attributes).toMatchObject({
      [ATTR.key]: 'orders:42',
      [ATTR.outcome]: 'acquired',
      [ATTR.fencingToken]: String(lock.fencingToken),
    });
    const [hold] = harness.spans(SPAN.hold);
    expect(hold?.attributes).toMatchObject({
      [ATTR.key]: 'orders:42',
      [ATTR.end]: 'released',
      [ATTR.fencingToken]: String(lock.fencingToken),
    });
    expect(hold?.status.code).toBe(0);
    expect(await harness.sum(METRIC.acquisitions, { [ATTR.outcome]: 'acquired' })).toBe(1);
    expect(await harness.sum(METRIC.holdDuration, { [ATTR.end]: 'released' })).toBe(1);
    expect(await harness.sum(METRIC.waitDuration)).toBe(1);
    const everything = JSON.stringify([
      harness.spans().map((s) => [s.name, s.attributes, s.status, s.events]),
      await harness.points(METRIC.acquisitions),
    ]);
    expect(everything).not.toContain('s3cret');
    await locks.close();
  });

  it('counts timeouts and re-entries by outcome; a re-entry is one hold', async () => {
    harness = startHarness();
    const store = new MemoryStore();
    const [a, b] = [memoryBackend({ store }), memoryBackend({ store })].map((backend) =>
      createLockClient(backend),
    ) as [LockClient, LockClient];
    await a.using('k', async () => {
      await a.using('k', async () => {
        expect(await harness!.sum(METRIC.holds)).toBe(1);
      });
      await expect(b.acquire('k', { waitTimeoutMs: 20 })).rejects.toSatisfy(
        LockTimeoutError.isInstance,
      );
    });
    expect(await harness.sum(METRIC.acquisitions, { [ATTR.outcome]: 'reentered' })).toBe(1);
    expect(await harness.sum(METRIC.acquisitions, { [ATTR.outcome]: 'acquired' })).toBe(1);
    expect(
      await harness.sum(METRIC.acquisitions, {
        [ATTR.outcome]: 'timeout',
        [ATTR.errorType]: 'DLOCK_TIMEOUT',
      }),
    ).toBe(1);
    expect(harness.spans(SPAN.hold)).toHaveLength(1);
    expect(await harness.sum(METRIC.holds)).toBe(0);
    const timedOut = harness.spans(SPAN.wait).find((s) => s.attributes[ATTR.outcome] === 'timeout');
    // The wait span covers the wait: it starts when the acquire was called.
    const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
    expect(ms(timedOut!.endTime) - ms(timedOut!.startTime)).toBeGreaterThanOrEqual(15);
    await Promise.all([a.close(), b.close()]);
  });

  it('tells aborted, queue-full and closed acquires apart', async () => {
    harness = startHarness();
    const store = new MemoryStore();
    const [a, b] = [memoryBackend({ store }), memoryBackend({ store })].map((backend) =>
      createLockClient(backend),
    ) as [LockClient, LockClient];
    const held = await a.acquire('busy', { ttlMs: 5_000 });
    const controller = new AbortController();
    const aborted = b.acquire('busy', { signal: controller.signal });
    const closed = b.acquire('busy', { maxWaitersPerKey: 2 });
    await expect(b.acquire('busy', { maxWaitersPerKey: 2 })).rejects.toSatisfy(
      LockQueueFullError.isInstance,
    );
    controller.abort();
    await expect(aborted).rejects.toThrow();
    const closing = b.close();
    await expect(closed).rejects.toSatisfy(LockClosedError.isInstance);
    await closing;
    for (const outcome of ['aborted', 'queue_full', 'closed']) {
      expect(await harness.sum(METRIC.acquisitions, { [ATTR.outcome]: outcome }), outcome).toBe(1);
    }
    const failed = harness.spans(SPAN.wait).filter((s) => s.attributes[ATTR.outcome] === 'closed');
    expect(failed[0]?.status.code).toBe(2);
    await held.release();
    await a.close();
  });

  it('reports a lost lock: a loss by reason, and its hold span ends in error', async () => {
    harness = startHarness();
    const locks = createLockClient(memoryBackend());
    const lock = await locks.acquire('short', { ttlMs: 50 });
    // The lease's own timer notices the expiry: wait for that event, not for a time.
    await new Promise((resolve) => lock.signal.addEventListener('abort', resolve, { once: true }));
    expect(LockLostError.isInstance(lock.signal.reason)).toBe(true);
    expect(await harness.sum(METRIC.losses, { [ATTR.lostReason]: 'expired' })).toBe(1);
    expect(await harness.sum(METRIC.holds)).toBe(0);
    const [hold] = harness.spans(SPAN.hold);
    expect(hold?.attributes).toMatchObject({ [ATTR.end]: 'lost', [ATTR.lostReason]: 'expired' });
    expect(hold?.status.code).toBe(2);
    // A release after the loss ends nothing twice.
    await lock.release();
    expect(harness.spans(SPAN.hold)).toHaveLength(1);
    expect(await harness.sum(METRIC.holds)).toBe(0);
    await locks.close();
  });

  it('disable() ends open hold spans and gives back their count; nothing is recorded after', async () => {
    harness = startHarness();
    const locks = createLockClient(memoryBackend());
    const lock = await locks.acquire('open', { ttlMs: 5_000 });
    harness.instrumentation.disable();
    const [hold] = harness.spans(SPAN.hold);
    expect(hold?.attributes[ATTR.end]).toBe('untracked');
    expect(await harness.sum(METRIC.holds)).toBe(0);
    await lock.release();
    await locks.acquire('after');
    expect(harness.spans(SPAN.wait)).toHaveLength(1);
    await locks.close();
  });

  it('counts renewals of the watchdog and of extend()', async () => {
    harness = startHarness();
    const locks = createLockClient(memoryBackend());
    const lock = await locks.acquire('renewed', { ttlMs: 5_000 });
    await lock.extend();
    await lock.release();
    await expect(lock.extend()).rejects.toThrow();
    expect(
      await harness.sum(METRIC.renewals, { [ATTR.renewalOutcome]: 'ok', [ATTR.watchdog]: false }),
    ).toBe(1);
    await locks.close();
  });
});
