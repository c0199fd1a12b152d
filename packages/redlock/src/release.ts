import type { OwnerRef, ReleaseResult } from '@dlock/lock-core/spi';
import { COMMANDS, decodeReleaseReply, type LockKeys, lockKeys } from '@dlock/lock-redis/internals';
import { quorumError } from './errors.js';
import { answers, onAllNodes } from './fan-out.js';
import type { RedlockNode } from './node.js';
import type { Quorum } from './quorum.js';

/**
 * Release on every node at once, exactly once per node (no retry loop): each node runs
 * lock-redis's owner-checked release script, so a node where the hold already expired simply
 * answers "not held". The lock counted as held only while a majority held it, so:
 * - a majority released or decremented: `released` (or `decremented` when a majority still
 *   holds re-entries);
 * - too few held it for any majority, even counting the nodes that did not answer: `not-held`
 *   (it had already expired or been taken over; nothing to report as an error);
 * - otherwise the nodes that did not answer decide it, and we cannot tell: LockBackendError with
 *   their causes. Whatever they still hold expires with its TTL.
 */
export async function releaseOnQuorum(q: Quorum, request: OwnerRef): Promise<ReleaseResult> {
  const keys = lockKeys(q.prefix, request.key);
  const outcomes = await onAllNodes(
    q.nodes,
    'release',
    request.key,
    releaseCall(keys, request.owner),
    decodeReleaseReply,
    q.nodeTimeoutMs,
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
    request.key,
    `cannot tell whether the lock was held: ${released + decremented} of ${q.nodes.length} nodes released it, ${failed} did not answer, ${q.size} needed`,
    outcomes,
  );
}

/** One node's call of lock-redis's owner-checked release script (classic PUBLISH: `'0'`). */
export function releaseCall(keys: LockKeys, owner: string) {
  return (node: RedlockNode) =>
    node.scripts[COMMANDS.release]!(keys.lock, keys.fence, keys.wait, owner, keys.channel, '0');
}
