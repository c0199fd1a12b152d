import type { ExtendResult } from '@dlock/lock-core/spi';
import { quorumError } from './errors.js';
import { answers, onAllNodes } from './fan-out.js';
import type { RedlockNode } from './node.js';
import type { Quorum } from './quorum.js';
import { driftMs, validityMs } from './validity.js';

/**
 * An owner-checked renewal on every node at once (`call` runs one node's extend script, which
 * answers 1 when it renewed), judged the Redlock way for a lock or a lease alike:
 * - renewed, with the validity left, when a majority renewed inside the new validity. The
 *   validity, not the requested TTL: the core's estimate (and `lock.signal`) then ends where
 *   Redlock's guarantee does, inside the drift allowance, as it does for a grant;
 * - `false` when too few nodes hold it for any majority, even counting those that did not
 *   answer: the hold is lost, and the core aborts its signal;
 * - otherwise (nodes down or slow, or the validity spent) it is unknown, and the rejection (a
 *   LockBackendError) lets the watchdog retry until the TTL runs out.
 *
 * `subject` names what is renewed in the error ("the lock", "the read lease").
 */
export async function renewOnQuorum(
  q: Quorum,
  key: string,
  ttlMs: number,
  call: (node: RedlockNode) => Promise<unknown>,
  subject: string,
): Promise<ExtendResult> {
  const start = q.now();
  const outcomes = await onAllNodes(
    q.nodes,
    'extend',
    key,
    call,
    (reply) => Number(reply) === 1,
    q.nodeTimeoutMs,
  );
  const renewed = answers(outcomes).filter((a) => a.value).length;
  const failed = outcomes.filter((o) => !o.ok).length;
  const validity = validityMs(ttlMs, q.now() - start, driftMs(ttlMs, q.driftFactor));
  if (renewed >= q.size && validity >= 1) return { ttlMs: validity };
  if (renewed + failed < q.size) return false;
  throw quorumError(
    'extend',
    key,
    renewed >= q.size
      ? `a majority renewed ${subject} but the renewal's validity was spent`
      : `quorum unreachable: ${renewed} of ${q.nodes.length} nodes renewed, ${failed} did not answer, ${q.size} needed`,
    outcomes,
  );
}
