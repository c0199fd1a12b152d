import { describe, expect, it, vi } from 'vitest';
import { createLockClient, LockBackendError, LockLostError } from '../src/index.js';
import { useFakeClock } from './fake-clock.js';
import { scriptedBackend } from './scripted-backend.js';

useFakeClock();

describe('watchdog', () => {
  it('renews about every ttl/3 and keeps the lock for many TTLs', async () => {
    const { backend, log } = scriptedBackend();
    const client = createLockClient(backend, { ttlMs: 3_000 });
    const lock = await client.acquire('k', { autoExtend: true });
    await vi.advanceTimersByTimeAsync(30_000);
    const renewals = log.filter((l) => l === 'extend k').length;
    expect(renewals).toBeGreaterThanOrEqual(27); // 30 s at one renewal per ttl/3 = 1 s
    expect(renewals).toBeLessThanOrEqual(31);
    expect(lock.held).toBe(true);
    expect(lock.signal.aborted).toBe(false);
    await lock.release();
    const after = log.length;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(log.length).toBe(after);
    await client.close();
  });

  it('renews 10,000 locks in batches from one scheduler', async () => {
    const { backend, log } = scriptedBackend({ batch: true });
    const client = createLockClient(backend, { ttlMs: 3_000, watchdogBatchSize: 1_000 });
    const locks = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => client.acquire(`k${i}`, { autoExtend: true })),
    );
    await vi.advanceTimersByTimeAsync(3_000);
    const batches = log.filter((l) => l.startsWith('extendMany'));
    expect(log.some((l) => l.startsWith('extend '))).toBe(false);
    expect(batches.length).toBeGreaterThanOrEqual(10);
    expect(batches.length).toBeLessThanOrEqual(40);
    expect(locks.every((l) => l.held)).toBe(true);
    await client.close();
  });

  it('retries failed renewals and reports the loss within the TTL, with the backend error as cause', async () => {
    const { backend, faults } = scriptedBackend();
    const onLost = vi.fn();
    const client = createLockClient(backend, { ttlMs: 3_000, onLost });
    const lock = await client.acquire('k', { autoExtend: true });
    faults.extend = 'throw';
    await vi.advanceTimersByTimeAsync(2_999);
    expect(lock.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(lock.signal.aborted).toBe(true);
    const reason = lock.signal.reason as LockLostError;
    expect(LockLostError.isInstance(reason)).toBe(true);
    expect(reason.reason).toBe('expired');
    expect(LockBackendError.isInstance(reason.cause)).toBe(true);
    expect(onLost).toHaveBeenCalledTimes(1);
    await client.close();
  });

  it('reports the loss at the TTL even when a renewal hangs', async () => {
    const { backend, faults, releaseHung } = scriptedBackend();
    const client = createLockClient(backend, { ttlMs: 3_000 });
    const lock = await client.acquire('k', { autoExtend: true });
    faults.extend = 'hang';
    await vi.advanceTimersByTimeAsync(3_001);
    expect(lock.signal.aborted).toBe(true);
    expect((lock.signal.reason as LockLostError).reason).toBe('expired');
    faults.extend = 'none';
    releaseHung();
    await client.close();
  });

  it('makes release wait for an in-flight renewal, and renews nothing after it', async () => {
    const { backend, faults, releaseHung, log } = scriptedBackend();
    const client = createLockClient(backend, { ttlMs: 3_000 });
    const lock = await client.acquire('k', { autoExtend: true });
    faults.extend = 'hang';
    await vi.advanceTimersByTimeAsync(1_100);
    expect(log).toContain('extend k');
    let released: boolean | undefined;
    const releasing = lock.release().then((r) => {
      released = r;
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(log).not.toContain('release k');
    faults.extend = 'none';
    releaseHung();
    await releasing;
    expect(released).toBe(true);
    expect(log.at(-1)).toBe('release k');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(log.at(-1)).toBe('release k');
    await client.close();
  });

  it('stops at maxHoldMs: the last renewal is capped, then the loss is reported as max-hold', async () => {
    const { backend, store } = scriptedBackend();
    const client = createLockClient(backend, { ttlMs: 3_000 });
    const lock = await client.acquire('k', { autoExtend: true, maxHoldMs: 10_000 });
    await vi.advanceTimersByTimeAsync(9_990);
    expect(lock.held).toBe(true);
    await vi.advanceTimersByTimeAsync(20);
    expect((lock.signal.reason as LockLostError).reason).toBe('max-hold');
    expect(store.get('k')).toBeUndefined();
    await client.close();
  });

  it('reports an unextended lock as expired at its TTL', async () => {
    const { backend } = scriptedBackend();
    const client = createLockClient(backend, { ttlMs: 1_000 });
    const lock = await client.acquire('k');
    await vi.advanceTimersByTimeAsync(999);
    expect(lock.held).toBe(true);
    await vi.advanceTimersByTimeAsync(2);
    expect(lock.held).toBe(false);
    expect((lock.signal.reason as LockLostError).reason).toBe('expired');
    await client.close();
  });
});
