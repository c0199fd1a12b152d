/**
 * What dlock writes in etcd: key names identical in shape to etcd's `concurrency.Mutex` (and so
 * to `etcdctl lock`), and the value each contender key stores.
 *
 *   `${prefix}${key}/${leaseIdHex}_${n}`    value: {"owner":"<client id>#<secret>","count":1}
 *
 * Every contender (the holder and each waiter) has its own key directly under the lock's queue
 * prefix `${prefix}${key}/`, put with its session's lease: the lease in lowercase hex (as the Go
 * Mutex names its key) and a number the backend never reuses, so that two acquisitions of one
 * backend never share a key. The oldest key (lowest create revision) holds the lock; each waiter
 * watches the key created just before its own. The Go Mutex and `etcdctl lock` compare only create
 * revisions under the prefix, so their keys (`${leaseIdHex}`) and ours queue together.
 */

/** The queue prefix of a lock. */
export function queuePrefix(prefix: string, key: string): string {
  return `${prefix}${key}/`;
}

/** A contender's key: the session lease in hex (as the Go Mutex writes it) and a sequence number. */
export function contenderKey(queue: string, leaseId: string, sequence: number): string {
  return `${queue}${leaseHex(leaseId)}_${sequence.toString(16)}`;
}

/** etcd prints lease ids as `%x` of the int64: lowercase hex, no padding. */
export function leaseHex(leaseId: string): string {
  return BigInt(leaseId).toString(16);
}

/**
 * Whether a mutex queue lies where elections write (election-keys.ts): its bare-hex keys are then
 * candidates and side records, not contenders.
 */
export function isElectionArea(prefix: string, queue: string): boolean {
  return queue.startsWith(`${prefix}elect/`) || queue.startsWith(`${prefix}electors/`);
}

/** Ours (`<hex>_<hex>`) or another Mutex user's (`<hex>`). */
const CONTENDER = /^[0-9a-f]+(?:_[0-9a-f]+)?$/;

/**
 * Whether `key` is a contender directly in `queue`. A plain prefix range over `orders/` also
 * returns the keys of a lock named `orders/42` (`orders/42/<hex>`); those are not ours to order by.
 *
 * With the backend's `prefix`: in a queue where elections write (a lock named `elect/<name>` or
 * `electors/<name>`), a bare `<hex>` key is an election's candidate or side record, not another
 * Mutex user's, so only dlock's own `<hex>_<n>` keys count there.
 */
export function isContender(queue: string, key: string, prefix?: string): boolean {
  if (key.length <= queue.length || !key.startsWith(queue)) return false;
  const name = key.slice(queue.length);
  if (!CONTENDER.test(name)) return false;
  return prefix === undefined || name.includes('_') || !isElectionArea(prefix, queue);
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

/** What a contender key stores: the owner token and its hold count. */
export interface HolderValue {
  readonly owner: string;
  readonly count: number;
  /** Written by another etcd Mutex user, not by dlock: never matches an owner token. */
  readonly foreign: boolean;
}

/** JSON, so that an operator reading etcd sees who holds what. */
export function encodeHolder(owner: string, count: number): string {
  return JSON.stringify({ owner, count });
}

/**
 * Keys written by other Mutex users (`etcdctl lock` stores an empty value) decode as a foreign
 * holder named after its lease, whose owner matches no dlock owner token.
 */
export function decodeHolder(value: string, lease: string): HolderValue {
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === 'object' && parsed !== null) {
      const { owner, count } = parsed as { owner?: unknown; count?: unknown };
      if (typeof owner === 'string' && owner !== '' && Number.isSafeInteger(count)) {
        if ((count as number) >= 1) return { owner, count: count as number, foreign: false };
      }
    }
  } catch {
    // not ours
  }
  return { owner: `etcd-lease:${lease === '0' ? '0' : leaseHex(lease)}`, count: 1, foreign: true };
}

/** Whether the stored holder is `owner` (never true for a foreign holder). */
export function heldBy(holder: HolderValue, owner: string): boolean {
  return !holder.foreign && holder.owner === owner;
}
