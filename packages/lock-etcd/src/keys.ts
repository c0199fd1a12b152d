/**
 * Key layout, identical to etcd's `concurrency.Mutex` (and so to `etcdctl lock`):
 *
 *   `${prefix}${key}/${leaseIdHex}`
 *
 * Every contender (holder and waiters) has one key under the lock's queue prefix
 * `${prefix}${key}/`, named after its session lease in lowercase hex. The oldest key (lowest
 * create revision) holds the lock; each waiter watches the key created just before its own.
 */

/** The queue prefix of a lock. */
export function queuePrefix(prefix: string, key: string): string {
  return `${prefix}${key}/`;
}

/** A contender's key: what etcd's Mutex writes for the session with lease `leaseId`. */
export function contenderKey(queue: string, leaseId: string): string {
  return `${queue}${leaseHex(leaseId)}`;
}

/** etcd prints lease ids as `%x` of the int64: lowercase hex, no padding. */
export function leaseHex(leaseId: string): string {
  return BigInt(leaseId).toString(16);
}

const HEX = /^[0-9a-f]+$/;

/**
 * Whether `key` is a contender directly in `queue`. A plain prefix range over `orders/` also
 * returns the keys of a lock named `orders/42` (`orders/42/<hex>`); those are not ours to order by.
 */
export function isContender(queue: string, key: string): boolean {
  return key.length > queue.length && key.startsWith(queue) && HEX.test(key.slice(queue.length));
}

/** The first byte string after every key starting with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff (or empty): the range runs to the end of the keyspace.
  return Buffer.from([0]);
}
