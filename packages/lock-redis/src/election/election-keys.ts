import { createHash } from 'node:crypto';

/**
 * The Redis names of one election. They carry the mutex's hash tag for the same name (12 hex
 * digits of its SHA-1, see `lockKeys`), so every election script runs within one Cluster slot,
 * and the word `el` after the tag keeps the election's namespace apart: the mutex's names go on
 * with `lock`, `fence`, `rel` or `wait` and the shared keys' with `sem` or `rw`, so
 * `election('k')` never shares a name with `acquire('k')`, `semaphore('k')` or
 * `readWriteLock('k')`.
 */
export interface ElectionKeys {
  /**
   * HASH {owner, value, term, count} of the live leader, written in one script with its PX
   * expiry on the server's clock: no key, no leader, and never a leader without its value.
   */
  readonly leader: string;
  /** Fencing counter (a string, as the mutex's): the last term issued; outlives the leader. */
  readonly fence: string;
  /** ZSET candidate owner -> arrival (server time in µs, strictly increasing): the queue. */
  readonly queue: string;
  /** ZSET candidate owner -> server-clock expiry of its waiter lease in ms. */
  readonly queueExpiry: string;
  /** Pub/sub channel: the leader or its value may have changed (ARGV, not KEYS: see release.ts). */
  readonly channel: string;
}

/** Derives the names of election `name` under `prefix` (see {@link ElectionKeys}). */
export function electionKeys(prefix: string, name: string): ElectionKeys {
  const tag = createHash('sha1').update(name, 'utf8').digest('hex').slice(0, 12);
  const base = `${prefix}{${tag}}:el`;
  return {
    leader: `${base}:leader:${name}`,
    fence: `${base}:fence:${name}`,
    queue: `${base}:queue:${name}`,
    queueExpiry: `${base}:qexp:${name}`,
    channel: `${base}:rel:${name}`,
  };
}
