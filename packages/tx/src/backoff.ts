import { setTimeout as delay } from 'node:timers/promises';

/** Retry intervals: `baseMs`, doubling, capped at `maxMs`, with ±25 % jitter. */
export interface RetryOptions {
  /**
   * First retry interval in ms.
   * @default 50
   */
  baseMs?: number;
  /**
   * Longest retry interval in ms.
   * @default 5000
   */
  maxMs?: number;
}

export function backoffMs(attempt: number, options: RetryOptions = {}): number {
  const base = options.baseMs ?? 50;
  const max = options.maxMs ?? 5000;
  const raw = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(raw * (0.75 + Math.random() * 0.5));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal ? { signal } : undefined).catch(() => undefined);
}
