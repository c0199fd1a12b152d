import { randomFillSync } from 'node:crypto';

/**
 * Random bytes drawn from one pooled buffer refilled by `randomFillSync`: a syscall per 8 KiB
 * instead of one per id is most of the difference between a fast and a slow UUID generator.
 */
const POOL_SIZE = 8192;
const pool = new Uint8Array(POOL_SIZE);
let offset = POOL_SIZE;

/** Offset of `count` fresh random bytes in `randomPool()`; valid until the next call. */
export function takeRandom(count: number): number {
  if (offset + count > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += count;
  return start;
}

export function randomPool(): Uint8Array {
  return pool;
}
