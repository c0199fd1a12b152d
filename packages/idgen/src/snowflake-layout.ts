import { IdGenArgumentError } from './errors.js';
import { checkInteger } from './validate.js';

/** Bits per field of a snowflake id, from the most significant (after the sign bit) down. */
export interface SnowflakeLayout {
  /** Milliseconds since the generator's `epoch`. */
  readonly timestampBits: number;
  readonly datacenterBits: number;
  readonly workerBits: number;
  /** Ids per millisecond per worker: 2^sequenceBits. */
  readonly sequenceBits: number;
}

/** Twitter's layout: 41 bits of milliseconds (69 years), 5 + 5 bits of node, 12 of sequence. */
export const TWITTER_LAYOUT: SnowflakeLayout = Object.freeze({
  timestampBits: 41,
  datacenterBits: 5,
  workerBits: 5,
  sequenceBits: 12,
});

/**
 * A 53-bit layout whose ids are always safe JavaScript numbers (they survive `JSON.parse` and
 * drivers that return numbers): 41 bits of milliseconds (69 years), 8 datacenters, 8 workers,
 * 64 ids per millisecond per worker (64,000 per second).
 */
export const SAFE_INTEGER_LAYOUT: SnowflakeLayout = Object.freeze({
  timestampBits: 41,
  datacenterBits: 3,
  workerBits: 3,
  sequenceBits: 6,
});

/** A layout checked and turned into shifts and masks. */
export interface ResolvedLayout extends SnowflakeLayout {
  readonly totalBits: number;
  readonly timestampShift: number;
  readonly datacenterShift: number;
  readonly workerShift: number;
  readonly maxSequence: number;
  readonly maxWorkerId: number;
  readonly maxDatacenterId: number;
  /** Largest timestamp offset (ms since epoch) the layout can hold. */
  readonly maxTimestamp: number;
}

/**
 * Validate a layout. The fields must sum to 63 (every positive signed 64-bit id, as Twitter) or
 * to 53 (ids that are safe JS numbers). Anything else is most likely a typo, so it is refused.
 * At most 53 bits may go to datacenter + worker + sequence, so that part is exact as a number.
 */
export function resolveLayout(layout: SnowflakeLayout): ResolvedLayout {
  if (typeof layout !== 'object' || layout === null) {
    throw new IdGenArgumentError('layout must be an object of bit counts');
  }
  const timestampBits = checkInteger('layout.timestampBits', layout.timestampBits, 10, 53);
  const datacenterBits = checkInteger('layout.datacenterBits', layout.datacenterBits, 0, 31);
  const workerBits = checkInteger('layout.workerBits', layout.workerBits, 0, 31);
  const sequenceBits = checkInteger('layout.sequenceBits', layout.sequenceBits, 1, 31);
  const totalBits = timestampBits + datacenterBits + workerBits + sequenceBits;
  if (totalBits !== 63 && totalBits !== 53) {
    throw new IdGenArgumentError(
      `layout bits must sum to 63 (full 64-bit signed ids) or 53 (safe JS numbers), got ${totalBits}`,
    );
  }
  return {
    timestampBits,
    datacenterBits,
    workerBits,
    sequenceBits,
    totalBits,
    timestampShift: datacenterBits + workerBits + sequenceBits,
    datacenterShift: workerBits + sequenceBits,
    workerShift: sequenceBits,
    maxSequence: 2 ** sequenceBits - 1,
    maxWorkerId: 2 ** workerBits - 1,
    maxDatacenterId: 2 ** datacenterBits - 1,
    maxTimestamp: 2 ** timestampBits - 1,
  };
}
