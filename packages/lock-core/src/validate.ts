import { LockArgumentError } from './errors.js';

/** Largest key, in UTF-8 bytes. Fits every backend's key column/name with room for a prefix. */
export const MAX_KEY_BYTES = 512;
/** Largest TTL: what a 32-bit signed timer delay (and Redis PEXPIRE comfortably) can hold. */
export const MAX_TTL_MS = 2 ** 31 - 1;

export function validateKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new LockArgumentError(`Lock key must be a non-empty string, got ${describeValue(key)}`);
  }
  // Lone surrogates cannot be encoded as UTF-8: the servers would store a different key.
  if (!key.isWellFormed()) {
    throw new LockArgumentError(
      'Lock key must be well-formed Unicode (it contains a lone surrogate)',
    );
  }
  // A UTF-16 code unit takes at most 3 UTF-8 bytes, so short keys need no counting.
  if (key.length * 3 <= MAX_KEY_BYTES) return key;
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new LockArgumentError(`Lock key is ${bytes} UTF-8 bytes; the limit is ${MAX_KEY_BYTES}`);
  }
  return key;
}

export function validateTtl(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > MAX_TTL_MS) {
    throw new LockArgumentError(
      `${name} must be a positive integer of at most ${MAX_TTL_MS} ms, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** A non-negative duration where `Infinity` means "no limit". */
export function validateDuration(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new LockArgumentError(
      `${name} must be a non-negative number of ms or Infinity, got ${describeValue(value)}`,
    );
  }
  return value;
}

export function validatePositiveDuration(name: string, value: unknown): number {
  if (validateDuration(name, value) === 0) {
    throw new LockArgumentError(`${name} must be greater than 0`);
  }
  return value as number;
}

export function validateOwner(value: unknown): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    !value.isWellFormed() ||
    Buffer.byteLength(value) > 256
  ) {
    throw new LockArgumentError(
      `owner must be a non-empty string of at most 256 UTF-8 bytes, got ${describeValue(value)}`,
    );
  }
  return value;
}

export function validateFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw new LockArgumentError(`${name} must be a function, got ${describeValue(value)}`);
  }
}

export function validateSignal(value: unknown): AbortSignal {
  if (!(value instanceof AbortSignal)) {
    throw new LockArgumentError(`signal must be an AbortSignal, got ${describeValue(value)}`);
  }
  return value;
}

export function validateEnum<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new LockArgumentError(
      `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(value)}`,
    );
  }
  return value as T;
}

/** A short, safe rendering of a refused value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
