import { IdGenArgumentError } from './errors.js';

/** Integer in [min, max], else a clear argument error naming the option. */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new IdGenArgumentError(
      `${name} must be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

export function checkNonEmptyString(name: string, value: unknown, maxLength = 512): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new IdGenArgumentError(
      `${name} must be a non-empty string of at most ${maxLength} characters, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * The longest delay a Node.js timer holds (2^31-1 ms), the bound of every duration option here.
 * lock-core's `MAX_TTL_MS` is the same number; idgen keeps its own because lock-core is an optional
 * peer of this package.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null)
    return String(value);
  return typeof value;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/**
 * An id as a bigint, from a bigint, a decimal string or a safe-integer number. Numbers above 2^53
 * are refused: they have already lost precision, so decoding them would silently mislead.
 */
export function toIdBigInt(name: string, value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'string' && DECIMAL.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isInteger(value)) {
    throw new IdGenArgumentError(
      `${name} ${value} is above Number.MAX_SAFE_INTEGER and has lost precision; pass it as a bigint or a decimal string`,
    );
  }
  throw new IdGenArgumentError(
    `${name} must be a bigint, a decimal string or a safe integer, got ${describe(value)}`,
  );
}
