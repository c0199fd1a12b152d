import { LockArgumentError } from './errors.js';
import { describeValue, MAX_TTL_MS } from './validate.js';

/** Bounds of a numeric option: an integer in `[min, max]`, or `Infinity` when allowed. */
export interface IntegerBounds {
  /**
   * Smallest accepted value.
   * @default 1 (0 for `nonNegativeInt`)
   */
  readonly min?: number;
  /**
   * Largest accepted finite value.
   * @default MAX_TTL_MS (2^31-1: what a timer delay can hold)
   */
  readonly max?: number;
  /**
   * Accept `Infinity` too (for "no limit").
   * @default false
   */
  readonly infinity?: boolean;
}

function integerIn(name: string, value: unknown, bounds: IntegerBounds, min: number): number {
  const { max = MAX_TTL_MS, infinity = false } = bounds;
  if (infinity && value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range =
      min === 1
        ? 'a positive integer'
        : min === 0
          ? 'a non-negative integer'
          : `an integer from ${min}`;
    throw new LockArgumentError(
      `${name} must be ${range} of at most ${max}${infinity ? ' or Infinity' : ''}, got ${describeValue(value)}`,
    );
  }
  return value;
}

/**
 * A count or size option: an integer from `min` (default 1) to `max` (default 2^31-1), or
 * `Infinity` when `infinity` is set. Anything else is a `LockArgumentError` naming `name`.
 */
export function positiveInt(name: string, value: unknown, bounds: IntegerBounds = {}): number {
  return integerIn(name, value, bounds, bounds.min ?? 1);
}

/** Like {@link positiveInt}, with 0 allowed (for example a number of replicas, `0` = off). */
export function nonNegativeInt(name: string, value: unknown, bounds: IntegerBounds = {}): number {
  return integerIn(name, value, bounds, bounds.min ?? 0);
}

/**
 * A duration option in whole milliseconds: from `min` (default 1) to `max` (default 2^31-1, the
 * longest a Node.js timer waits), or `Infinity` when `infinity` is set.
 */
export function durationMs(name: string, value: unknown, bounds: IntegerBounds = {}): number {
  return integerIn(name, value, bounds, bounds.min ?? 1);
}

/**
 * Refuses a value that is not a plain options object, or one carrying a name not in `known` (a
 * typo such as `prefx` would otherwise be ignored silently). The error names the unknown key and
 * every known one. `undefined` counts as `{}`.
 */
export function rejectUnknownOptions(
  where: string,
  options: unknown,
  known: Iterable<string>,
): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new LockArgumentError(
      `${where} options must be an object, got ${describeValue(options)}`,
    );
  }
  const allowed = known instanceof Set ? (known as ReadonlySet<string>) : new Set(known);
  for (const name of Object.keys(options)) {
    if (!allowed.has(name)) {
      throw new LockArgumentError(
        `Unknown option "${name}" for ${where}; known options: ${[...allowed].join(', ')}`,
      );
    }
  }
  return options as Record<string, unknown>;
}
