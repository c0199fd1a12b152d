/**
 * The names a fair lock adds to its lock's (see `lockKeys`): the waiter queue. They carry the
 * lock's hash tag, so every fair script stays within one Cluster slot, and their words (`fq`,
 * `fqx`, `fqn`) are none of the mutex's (`lock`, `fence`, `rel`, `wait`) nor a shared family's.
 */
export interface FairKeys {
  /** ZSET waiter (owner) -> ticket: the queue in arrival order. */
  readonly queue: string;
  /** ZSET waiter (owner) -> server-clock deadline of its waiter lease, in ms. */
  readonly leases: string;
  /** The ticket counter (INCR); deleted whenever the queue empties. */
  readonly tickets: string;
}

/**
 * `key`'s queue names, from its lock's name (`<prefix>{<tag>}:lock:<key>`): the same head,
 * another word. Three string builds, no digest: not worth a cache.
 */
export function fairKeys(lock: string, key: string): FairKeys {
  const head = lock.slice(0, lock.length - key.length - ':lock:'.length);
  return {
    queue: `${head}:fq:${key}`,
    leases: `${head}:fqx:${key}`,
    tickets: `${head}:fqn:${key}`,
  };
}
