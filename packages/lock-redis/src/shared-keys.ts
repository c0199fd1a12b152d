import { createHash } from 'node:crypto';

/** The two families of shared keys; each is a namespace of its own, apart from the mutex's. */
export type SharedFamily = 'semaphore' | 'read-write';

/**
 * The Redis names that make up one semaphore or one read-write lock. All of them share the
 * mutex's hash tag for the same user key (a digest of it, see `lockKeys`), so every script runs
 * within one Cluster slot. The family word (`sem` / `rw`) after the tag keeps the three
 * namespaces apart: the mutex's names go on with `lock`, `fence`, `rel` or `wait`, never with
 * `sem` or `rw`, so `semaphore('k')`, `readWriteLock('k')` and `acquire('k')` never share a name.
 *
 * The order of the first five is the KEYS order of every shared script.
 */
export interface SharedKeys {
  /** ZSET lease member -> server-clock expiry in ms (member: `s:`, `r:` or `w:` + owner). */
  readonly leases: string;
  /**
   * HASH of everything else: `limit` (semaphore), `used` (permits of non-write leases), `nw`
   * (write leases: 0 or 1), `qseq` (arrival counter of the queue), and per lease member `c:`
   * (hold count), `p:` (permits), `t:` (fencing token), per queued member `q:` (permits wanted).
   */
  readonly info: string;
  /** ZSET queued member -> arrival number (`qseq`): the waiter queue in arrival order. */
  readonly queue: string;
  /** ZSET queued member -> server-clock expiry of its waiter lease in ms. */
  readonly queueExpiry: string;
  /** Fencing counter (a string, as the mutex's): outlives the state by the retention. */
  readonly fence: string;
  /** Pub/sub channel: the head of the queue may now fit (ARGV, not KEYS: see release.ts). */
  readonly channel: string;
}

const FAMILY_WORD: Record<SharedFamily, string> = { semaphore: 'sem', 'read-write': 'rw' };

/** Derives the names of `family`'s key `key` under `prefix` (see {@link SharedKeys}). */
export function sharedKeys(prefix: string, family: SharedFamily, key: string): SharedKeys {
  const cacheKey = `${family}\u0000${prefix}`;
  let byKey = cache.get(cacheKey);
  if (!byKey) {
    byKey = new Map();
    cache.set(cacheKey, byKey);
  }
  let keys = byKey.get(key);
  if (!keys) {
    // Bounded: a workload cycling through many keys just starts over rather than growing.
    if (byKey.size >= CACHE_LIMIT) byKey.clear();
    keys = derive(prefix, FAMILY_WORD[family], key);
    byKey.set(key, keys);
  }
  return keys;
}

const cache = new Map<string, Map<string, SharedKeys>>();
const CACHE_LIMIT = 4096;

function derive(prefix: string, word: string, key: string): SharedKeys {
  // The same tag as the mutex's (`lockKeys`): 12 hex digits of the key's SHA-1, never braces.
  const tag = createHash('sha1').update(key, 'utf8').digest('hex').slice(0, 12);
  const base = `${prefix}{${tag}}:${word}`;
  return {
    leases: `${base}:leases:${key}`,
    info: `${base}:info:${key}`,
    queue: `${base}:queue:${key}`,
    queueExpiry: `${base}:qexp:${key}`,
    fence: `${base}:fence:${key}`,
    channel: `${base}:rel:${key}`,
  };
}

/** The KEYS of a shared script, in order. */
export function sharedScriptKeys(keys: SharedKeys): [string, string, string, string, string] {
  return [keys.leases, keys.info, keys.queue, keys.queueExpiry, keys.fence];
}
