import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitUntilOptions {
  /**
   * Give up after this many milliseconds.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Delay between checks in milliseconds.
   * @default 20
   */
  intervalMs?: number;
  /** Included in the timeout error. */
  message?: string;
}

/** Polls `check` until it returns a truthy value (which is returned) or the time runs out. */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  options: WaitUntilOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 5_000, intervalMs = 20, message = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`waitUntil: ${message} not met within ${timeoutMs} ms`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}
