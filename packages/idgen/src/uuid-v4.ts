import { randomPool, takeRandom } from './random-pool.js';
import { HEX } from './uuid-hex.js';

/** A random (version 4) UUID per RFC 9562, lowercase. */
export function uuidv4(): string {
  const o = takeRandom(16);
  const b = randomPool();
  return (
    HEX[b[o]!]! +
    HEX[b[o + 1]!]! +
    HEX[b[o + 2]!]! +
    HEX[b[o + 3]!]! +
    '-' +
    HEX[b[o + 4]!]! +
    HEX[b[o + 5]!]! +
    '-' +
    HEX[(b[o + 6]! & 0x0f) | 0x40]! +
    HEX[b[o + 7]!]! +
    '-' +
    HEX[(b[o + 8]! & 0x3f) | 0x80]! +
    HEX[b[o + 9]!]! +
    '-' +
    HEX[b[o + 10]!]! +
    HEX[b[o + 11]!]! +
    HEX[b[o + 12]!]! +
    HEX[b[o + 13]!]! +
    HEX[b[o + 14]!]! +
    HEX[b[o + 15]!]!
  );
}
