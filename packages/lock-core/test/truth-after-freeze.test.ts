import { addAbortListener } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { createLockClient, LockLostError, memoryBackend } from '../src/index.js';

/** Keeps the event loop busy, as a frozen process would be: no timer can run meanwhile. */
function freezeFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

describe('truth after a freeze (no timer has run since the lease ran out)', () => {
  it("the using callback's signal, throwIfAborted, reason, held and the lock's signal all say lost at the first look", async () => {
    const locks = createLockClient(memoryBackend(), { ttlMs: 1_000 });
    const seen = await locks.using('k', (signal, lock) => {
      const before = { aborted: signal.aborted, held: lock.held };
      freezeFor(1_100);
      // Synchronously after the freeze: the watchdog's timer has had no chance to run.
      const aborted = signal.aborted;
      let thrown: unknown;
      try {
        signal.throwIfAborted();
      } catch (error) {
        thrown = error;
      }
      return { before, aborted, thrown, reason: signal.reason, held: lock.held, same: lock.signal };
    });
    expect(seen.before).toEqual({ aborted: false, held: true });
    expect(seen.aborted).toBe(true);
    expect(LockLostError.isInstance(seen.thrown)).toBe(true);
    expect((seen.thrown as LockLostError).reason).toBe('expired');
    expect(seen.reason).toBe(seen.thrown);
    expect(seen.held).toBe(false);
    expect(seen.same.aborted).toBe(true);
    await locks.close();
  });

  it('fires abort listeners and onLost at that first look, once', async () => {
    const onLost = vi.fn();
    const locks = createLockClient(memoryBackend(), { ttlMs: 1_000, onLost });
    const heard = vi.fn();
    await locks.using('k', (signal) => {
      signal.addEventListener('abort', heard);
      freezeFor(1_100);
      expect(heard).not.toHaveBeenCalled();
      expect(signal.aborted).toBe(true);
      expect(heard).toHaveBeenCalledTimes(1);
      expect(onLost).toHaveBeenCalledTimes(1);
      expect(signal.aborted).toBe(true);
    });
    expect(heard).toHaveBeenCalledTimes(1);
    expect(onLost).toHaveBeenCalledTimes(1);
    await locks.close();
  });

  it('stays a genuine AbortSignal: AbortSignal.any, addAbortListener and Request accept it and see the loss', async () => {
    const locks = createLockClient(memoryBackend(), { ttlMs: 1_000 });
    await locks.using('k', (signal) => {
      expect(signal).toBeInstanceOf(AbortSignal);
      const request = new Request('http://127.0.0.1/', { signal });
      const combined = AbortSignal.any([signal]);
      expect(combined.aborted).toBe(false);
      freezeFor(1_100);
      // A combining API reads `aborted` through the accessor, so it sees the truth too.
      expect(AbortSignal.any([signal]).aborted).toBe(true);
      // ... and signals derived before the loss are aborted by it.
      expect(combined.aborted).toBe(true);
      expect(request.signal.aborted).toBe(true);
      const listener = vi.fn();
      addAbortListener(signal, listener);
      return new Promise<void>((resolve) => queueMicrotask(resolve)).then(() =>
        expect(listener).toHaveBeenCalledTimes(1),
      );
    });
    await locks.close();
  });

  it('a lock nobody watched (no signal read, no watchdog) reads lost by held, and its signal is born aborted', async () => {
    const locks = createLockClient(memoryBackend(), { ttlMs: 1_000 });
    const lock = await locks.acquire('k');
    freezeFor(1_100);
    expect(lock.held).toBe(false);
    expect(lock.signal.aborted).toBe(true);
    expect((lock.signal.reason as LockLostError).reason).toBe('expired');
    expect(await lock.release()).toBe(false);
    await locks.close();
  });
});
