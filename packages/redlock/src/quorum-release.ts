import type { ReleaseResult } from '@dlock/lock-core/spi';
import { quorumError } from './errors.js';
import { answers, onAllNodes, type PartialOutcomes } from './fan-out.js';
import type { RedlockNode } from './node.js';
import type { Quorum } from './quorum.js';

/**
 * An owner-checked release on every node at once, exactly once per node (no retry loop), judged
 * the Redlock way for a lock or a lease alike. `call` runs one node's release script, `decode`
 * reads its answer; a node where the hold already expired simply answers "not held". The hold
 * counted as held only while a majority held it, so:
 * - a majority released or decremented: `released` (or `decremented` when a majority still
 *   holds re-entries);
 * - too few held it for any majority, even counting the nodes that did not answer: `not-held`
 *   (it had already expired or been taken over; nothing to report as an error);
 * - otherwise the nodes that did not answer decide it, and we cannot tell: LockBackendError with
 *   their causes. Whatever they still hold expires with its TTL.
 *
 * `subject` names what is released in the error ("the lock", "the read lease").
 */
export async function releaseOnAllNodes(
  q: Quorum,
  key: string,
  call: (node: RedlockNode) => Promise<unknown>,
  decode: (reply: unknown) => ReleaseResult,
  subject: string,
): Promise<ReleaseResult> {
  const outcomes = await onAllNodes(
    q.nodes,
    'release',
    key,
    call,
    decode,
    q.nodeTimeoutMs,
    false,
    (partial) => releaseDecided(q, partial),
  );
  let released = 0;
  let decremented = 0;
  for (const { value } of answers(outcomes)) {
    if (value === 'released') released++;
    else if (value === 'decremented') decremented++;
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  if (decremented >= q.size) return 'decremented';
  if (released + decremented >= q.size) return 'released';
  if (released + decremented + failed < q.size) return 'not-held';
  throw quorumError(
    'release',
    key,
    `cannot tell whether ${subject} was held: ${released + decremented} of ${q.nodes.length} nodes released it, ${failed} did not answer, ${q.size} needed`,
    outcomes,
  );
}

/**
 * Whether the answers so far settle a release as the full count would (`onAllNodes`' `decided`):
 * a majority decremented, or so many released that the rest could not make a majority of
 * decrements. Anything short of that waits for every node, like `not-held` and the errors.
 */
function releaseDecided(q: Quorum, outcomes: PartialOutcomes<ReleaseResult>): boolean {
  let released = 0;
  let decremented = 0;
  for (const outcome of outcomes) {
    if (!outcome?.ok) continue;
    if (outcome.value === 'released') released++;
    else if (outcome.value === 'decremented') decremented++;
  }
  if (decremented >= q.size) return true;
  return q.nodes.length - released < q.size && released + decremented >= q.size;
}
