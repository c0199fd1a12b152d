import { quorumError } from './errors.js';
import { answers, onAllNodes } from './fan-out.js';
import type { RedlockNode } from './node.js';
import type { Quorum } from './quorum.js';

/**
 * A removal on every node at once that needs no majority to take effect (an operator's force
 * release, a waiter's abandon): `call` runs one node's script, which answers 1 when it removed
 * something. `true` when any node removed something; `false` when a majority answered and none
 * had anything; otherwise a LockBackendError, since the nodes that did not answer could have
 * held it. What is left on those nodes lapses with its TTL.
 */
export async function removeOnAnyNode(
  q: Quorum,
  operation: string,
  key: string,
  call: (node: RedlockNode) => Promise<unknown>,
): Promise<boolean> {
  const outcomes = await onAllNodes(
    q.nodes,
    operation,
    key,
    call,
    (reply) => Number(reply) === 1,
    q.nodeTimeoutMs,
  );
  const replies = answers(outcomes);
  if (replies.some((a) => a.value)) return true;
  if (replies.length >= q.size) return false;
  throw quorumError(
    operation,
    key,
    `quorum unreachable: ${replies.length} of ${q.nodes.length} nodes answered, ${q.size} needed`,
    outcomes,
  );
}
