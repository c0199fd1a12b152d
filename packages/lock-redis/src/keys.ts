import { createHash } from 'node:crypto';

/** The Redis names that make up one lock. All four share one hash slot. */
export interface LockKeys {
  /** The owner (a string) or a hash {owner -> hold count} once re-entered; expires with the lease. */
  readonly lock: string;
  /** Fencing counter: the last token issued (see the acquire script); outlives the lock. */
  readonly fence: string;
  /** Pub/sub channel announcing that the lock was released. */
  readonly channel: string;
  /** Waiter flag: set while someone may wait for a release message (see the acquire script). */
  readonly wait: string;
}

/**
 * Derives the names for `key` under `prefix`.
 *
 * Redis Cluster hashes only the text between the first `{` and the next `}`. User keys may
 * contain braces, so the key itself can never be the tag: `a}b` would cut the tag short and
 * `{x}` keys of different locks would land together. Instead the tag is a hex digest of the key
 * (hex has no braces), and since the prefix is checked to be brace-free, our tag is always the
 * first one. The full key follows the tag verbatim, so distinct keys never share a name even if
 * two digests collide: a collision would only put two locks in the same slot. Twelve hex digits
 * (48 bits) keep the per-lock memory small while spreading keys evenly over the 16384 slots.
 */
export function lockKeys(prefix: string, key: string): LockKeys {
  let byKey = cache.get(prefix);
  if (!byKey) {
    byKey = new Map();
    cache.set(prefix, byKey);
  }
  let keys = byKey.get(key);
  if (!keys) {
    // Bounded: a workload cycling through many keys just starts over rather than growing.
    if (byKey.size >= CACHE_LIMIT) byKey.clear();
    keys = deriveKeys(prefix, key);
    byKey.set(key, keys);
  }
  return keys;
}

/**
 * Names are a pure function of prefix and key, and hot keys repeat on every acquire, release and
 * renewal: caching them saves a SHA-1 and four string builds per call.
 */
const cache = new Map<string, Map<string, LockKeys>>();
const CACHE_LIMIT = 4096;

function deriveKeys(prefix: string, key: string): LockKeys {
  const tag = createHash('sha1').update(key, 'utf8').digest('hex').slice(0, 12);
  const base = `${prefix}{${tag}}`;
  return {
    lock: `${base}:lock:${key}`,
    fence: `${base}:fence:${key}`,
    channel: `${base}:rel:${key}`,
    wait: `${base}:wait:${key}`,
  };
}
