import { UsageError } from './cli-error.js';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;

/**
 * Parses `500ms`, `30s`, `2m`, `1h` or a bare number of seconds (as `flock -w` and `timeout`
 * take). With `allowForever`, `forever`, `inf` and `infinity` mean no limit.
 */
export function parseDuration(flag: string, text: string, allowForever = false): number {
  const value = text.trim().toLowerCase();
  if (allowForever && (value === 'forever' || value === 'inf' || value === 'infinity')) {
    return Number.POSITIVE_INFINITY;
  }
  const match = PATTERN.exec(value);
  if (!match) {
    const forever = allowForever ? ', or "forever"' : '';
    throw new UsageError(
      `${flag} takes a duration such as 500ms, 30s, 2m or 1h (a bare number is seconds${forever}); got "${text}"`,
    );
  }
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!);
}

/** `1234` -> `1.2s`, `61000` -> `1m 1s`: for messages. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'forever';
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m ${Math.round((ms % 60_000) / 1_000)}s`;
}
