import { afterEach, beforeEach, vi } from 'vitest';

/**
 * Fakes timers and both clocks the core reads (`performance.now()` for leases, `Date` for
 * `expiresAt`) around every test of the calling file, so TTLs pass without waiting.
 */
export function useFakeClock(): void {
  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance', 'Date'],
    });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}
