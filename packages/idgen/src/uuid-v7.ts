import { IdGenArgumentError } from './errors.js';
import { randomPool, takeRandom } from './random-pool.js';
import { HEX } from './uuid-hex.js';

export interface Uuidv7GeneratorOptions {
  /**
   * Wall clock in milliseconds since the Unix epoch (inject one in tests).
   * @default Date.now
   */
  clock?: () => number;
}

/**
 * The counter: RFC 9562 section 6.2 method 1 ("fixed bit-length dedicated counter"), 26 bits,
 * the 12 bits of rand_a followed by the top 14 bits of rand_b. Each new millisecond seeds it with
 * 25 random bits (top bit 0, as the RFC advises) so at least 2^25 ids fit in one millisecond
 * before it rolls over; 12 bits alone would push the timestamp ahead of the clock at ~4 million
 * ids per second. The remaining 48 bits of rand_b are fresh random bits in every id.
 */
const MAX_COUNTER = 0x3ffffff;

/**
 * A UUIDv7 generator with its own monotonic state: every id is greater (as a string and as bytes)
 * than the previous one, also within one millisecond and when the clock steps back (the last
 * timestamp is then kept and the counter continues). When the counter rolls over the timestamp
 * moves one millisecond ahead, as RFC 9562 6.2 allows.
 */
export function createUuidv7Generator(options: Uuidv7GeneratorOptions = {}): () => string {
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function') throw new IdGenArgumentError('clock must be a function');
  return uuidv7WithCounter(clock, MAX_COUNTER);
}

/** Not public: the counter width is a parameter only so tests can reach a rollover quickly. */
export function uuidv7WithCounter(clock: () => number, maxCounter: number): () => string {
  const seedMask = maxCounter >>> 1;
  let lastMs = -1;
  let counter = 0;
  // "tttttttt-tttt-": the timestamp part only changes once per millisecond, so it is cached.
  let prefix = '';

  function startMillisecond(ms: number): void {
    if (ms > 0xffffffffffff) {
      throw new IdGenArgumentError(`clock reads ${ms}, beyond the 48-bit UUIDv7 timestamp`);
    }
    lastMs = ms;
    const b = randomPool();
    const o = takeRandom(4);
    counter = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) & seedMask;
    const hex = ms.toString(16).padStart(12, '0');
    prefix = `${hex.slice(0, 8)}-${hex.slice(8)}-`;
  }

  return function uuidv7(): string {
    const now = clock();
    if (now > lastMs) {
      startMillisecond(now);
    } else if (counter < maxCounter) {
      counter++;
    } else {
      startMillisecond(lastMs + 1);
    }
    const c = counter;
    const b = randomPool();
    const o = takeRandom(6);
    return (
      prefix +
      HEX[0x70 | (c >>> 22)]! +
      HEX[(c >>> 14) & 0xff]! +
      '-' +
      HEX[0x80 | ((c >>> 8) & 0x3f)]! +
      HEX[c & 0xff]! +
      '-' +
      HEX[b[o]!]! +
      HEX[b[o + 1]!]! +
      HEX[b[o + 2]!]! +
      HEX[b[o + 3]!]! +
      HEX[b[o + 4]!]! +
      HEX[b[o + 5]!]!
    );
  };
}

/**
 * A time-ordered (version 7) UUID per RFC 9562, lowercase; monotonic within this process.
 */
export const uuidv7: () => string = createUuidv7Generator();
