import { describe, expect, it, vi } from 'vitest';
import { createLeaseClock, SUSPEND_TOLERANCE_MS } from '../src/clock.js';
import { createLockClient, type LockLostError, memoryBackend } from '../src/index.js';
import { useFakeClock } from './fake-clock.js';

/** Two sources the test moves by hand: `mono` is CLOCK_MONOTONIC, `wall` is Date.now(). */
function jumpingClock() {
  const t = { mono: 1_000, wall: 1_700_000_000_000 };
  const clock = createLeaseClock({ monotonic: () => t.mono, wall: () => t.wall });
  return { t, clock };
}

describe('the lease clock', () => {
  it('advances with the monotonic clock when both clocks agree', () => {
    const { t, clock } = jumpingClock();
    const start = clock.now();
    t.mono += 5_000;
    t.wall += 5_000;
    expect(clock.now() - start).toBe(5_000);
  });

  it('counts a suspend: the wall clock ran on while the monotonic clock stood still', () => {
    const { t, clock } = jumpingClock();
    const start = clock.now();
    t.mono += 10;
    t.wall += 60_000;
    expect(clock.now() - start).toBe(60_000);
    // and goes on from there at the monotonic pace
    t.mono += 1_000;
    t.wall += 1_000;
    expect(clock.now() - start).toBe(61_000);
  });

  it('ignores a backward wall-clock step, and still counts a suspend after one', () => {
    const { t, clock } = jumpingClock();
    const start = clock.now();
    t.mono += 1_000;
    t.wall -= 10_000;
    expect(clock.now() - start).toBe(1_000);
    t.mono += 5;
    t.wall += 30_000;
    expect(clock.now() - start).toBe(1_000 + 30_000);
  });

  it('never goes back, and the two clocks rounding differently does not accumulate', () => {
    const { t, clock } = jumpingClock();
    const start = clock.now();
    let previous = start;
    for (let i = 0; i < 10_000; i++) {
      t.mono += 1;
      t.wall += i % 2 === 0 ? 2 : 0; // whole-millisecond wall readings around the true time
      const now = clock.now();
      expect(now).toBeGreaterThanOrEqual(previous);
      previous = now;
    }
    expect(previous - start).toBeLessThanOrEqual(10_000 + SUSPEND_TOLERANCE_MS);
  });
});

describe('leases across a suspend', () => {
  useFakeClock();

  it('a lock held across a suspend longer than its TTL reads lost on resume, before any timer runs', async () => {
    const locks = createLockClient(memoryBackend(), { ttlMs: 10_000 });
    const lock = await locks.acquire('k', { autoExtend: true });
    const before = lock.expiresAt;
    // Suspend: the wall clock moves on 60 s, the monotonic clock (and so every timer) does not.
    vi.setSystemTime(Date.now() + 60_000);
    expect(lock.held).toBe(false);
    expect(lock.signal.aborted).toBe(true);
    expect((lock.signal.reason as LockLostError).reason).toBe('expired');
    expect(lock.expiresAt).toBeLessThanOrEqual(before);
    expect(lock.expiresAt).toBeLessThan(Date.now());
    await locks.close();
  });

  it('a shorter suspend than the TTL keeps the lock, with the suspend taken off its remaining time', async () => {
    const locks = createLockClient(memoryBackend(), { ttlMs: 10_000 });
    const lock = await locks.acquire('k');
    vi.setSystemTime(Date.now() + 4_000);
    expect(lock.held).toBe(true);
    expect(lock.expiresAt - Date.now()).toBeLessThanOrEqual(6_000);
    await lock.release();
    await locks.close();
  });

  it('a backward wall-clock step does not stretch a lease', async () => {
    const locks = createLockClient(memoryBackend(), { ttlMs: 10_000 });
    const lock = await locks.acquire('k');
    const onLost = vi.fn();
    lock.signal.addEventListener('abort', onLost);
    vi.setSystemTime(Date.now() - 60_000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(lock.held).toBe(false);
    expect(onLost).toHaveBeenCalledTimes(1);
    await locks.close();
  });
});
