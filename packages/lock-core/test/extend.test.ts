import { describe, expect, it, vi } from 'vitest';
import { createLockClient, LockLostError } from '../src/index.js';
import { useFakeClock } from './fake-clock.js';
import { scriptedBackend } from './scripted-backend.js';

useFakeClock();

describe('extend() and the expiry estimate', () => {
  it('a shorter extend() shortens the estimate, and the signal aborts when it runs out', async () => {
    const { backend } = scriptedBackend();
    const client = createLockClient(backend, { ttlMs: 10_000 });
    const lock = await client.acquire('k');
    const { signal } = lock;
    await lock.extend(1_000); // the server now ends it 1 s from here, not 10 s
    expect(lock.expiresAt).toBe(Date.now() + 1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(lock.held).toBe(false);
    expect(signal.aborted).toBe(true);
    expect(LockLostError.isInstance(signal.reason)).toBe(true);
    expect((signal.reason as LockLostError).reason).toBe('expired');
    await client.close();
  });

  it("follows a backend's reported renewal length instead of the requested TTL", async () => {
    const { backend, report } = scriptedBackend();
    const client = createLockClient(backend, { ttlMs: 10_000 });
    const lock = await client.acquire('k');
    report.extendTtlMs = 9_700; // as Redlock reports its validity after the drift allowance
    await lock.extend();
    expect(lock.expiresAt).toBe(Date.now() + 9_700);
    await client.close();
  });

  it('the watchdog does the same, and keeps renewing about every third of the reported length', async () => {
    const { backend, report, log } = scriptedBackend();
    const client = createLockClient(backend, { ttlMs: 3_000 });
    report.extendTtlMs = 1_500; // half of what is asked
    const lock = await client.acquire('k', { autoExtend: true });
    await vi.advanceTimersByTimeAsync(1_001); // first renewal due at ttl/3
    expect(log.filter((l) => l === 'extend k')).toHaveLength(1);
    expect(lock.expiresAt).toBeLessThanOrEqual(Date.now() + 1_500);
    // Renewals now come every 500 ms (a third of 1,500), not in a tight loop, and keep the lock.
    await vi.advanceTimersByTimeAsync(5_000);
    const renewals = log.filter((l) => l === 'extend k').length;
    expect(renewals).toBeGreaterThanOrEqual(10);
    expect(renewals).toBeLessThanOrEqual(12);
    expect(lock.held).toBe(true);
    await lock.release();
    await client.close();
  });

  it("a user's extend() waits for the watchdog's renewal in flight instead of racing it", async () => {
    const { backend, faults, log, releaseHung } = scriptedBackend();
    const client = createLockClient(backend, { ttlMs: 3_000 });
    const lock = await client.acquire('k', { autoExtend: true });
    faults.extend = 'hang';
    await vi.advanceTimersByTimeAsync(1_001); // the watchdog's renewal is now out, unanswered
    expect(log.filter((l) => l === 'extend k')).toHaveLength(1);
    faults.extend = 'none';
    const shorter = lock.extend(500);
    await vi.advanceTimersByTimeAsync(0);
    expect(log.filter((l) => l === 'extend k')).toHaveLength(1); // not sent yet
    releaseHung();
    await shorter;
    expect(log.filter((l) => l === 'extend k')).toHaveLength(2);
    // The user's renewal ran last on the server, so it is the one the estimate follows.
    expect(lock.expiresAt).toBe(Date.now() + 500);
    await lock.release();
    await client.close();
  });
});
