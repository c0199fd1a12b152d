/**
 * Who holds a semaphore or read-write key, from one read of its queue: pure functions of the
 * contenders in create-revision order, the same on every client (no state of its own).
 *
 * - Semaphore: a contender is granted iff the permits of every contender created before it plus
 *   its own fit the limit (the first-N-by-create-revision rule of etcd's DoubleBarrier fix,
 *   etcd-io/etcd#14604, weighted by permits). Strict FIFO: a waiting `permits: limit` request
 *   blocks every later one, so single permits cannot starve it. The limit is the oldest live
 *   contender's (each contender stores the one it was admitted with; `changeLimit` rewrites all).
 * - Read-write: a reader is granted iff no contender in `write` mode was created before it; a
 *   writer iff it is the oldest. A queued writer thus stops every later reader.
 *
 * Both rules are monotone: contenders older than a key can only go away (new keys get newer
 * revisions) and their permits and modes never grow, so a key once granted stays granted until it
 * goes, and the set of granted keys is always a prefix-closed set of the queue.
 *
 * Fencing: a grant's token is its key's create revision. Tokens are strictly increasing over
 * grants: when a key is granted, the condition also holds for every older live key (it depends on
 * a subset of what the younger one's does), so no key is granted before an older one and grants
 * happen in create-revision order; revisions never repeat and never go back, even after every key
 * is gone. A read grant's revision exceeds that of every write granted before it (that writer was
 * older, or the reader could not have been granted while it lived).
 */
import type { StoredKey } from './driver.js';
import type { ReadWriteValue, SemaphoreValue } from './shared-keys.js';

export interface Contender<V> {
  readonly stored: StoredKey;
  readonly value: V;
}

/** The key's limit: the oldest dlock contender's (`NaN` when there is none). */
export function semaphoreLimit(contenders: readonly Contender<SemaphoreValue>[]): number {
  return contenders.find((c) => !c.value.foreign)?.value.limit ?? Number.NaN;
}

/** For each contender (oldest first), whether it holds the semaphore under `limit`. */
export function semaphoreGrants(
  contenders: readonly Contender<SemaphoreValue>[],
  limit: number,
): boolean[] {
  let taken = 0;
  return contenders.map((c) => {
    taken += c.value.permits;
    return taken <= limit;
  });
}

/** For each contender (oldest first), whether it holds the read-write key. */
export function readWriteGrants(contenders: readonly Contender<ReadWriteValue>[]): boolean[] {
  let writerBefore = false;
  return contenders.map((c, i) => {
    const granted = c.value.mode === 'write' ? i === 0 : !writerBefore;
    if (c.value.mode === 'write') writerBefore = true;
    return granted;
  });
}
