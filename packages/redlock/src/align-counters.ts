import type { LockBackendError } from '@dlock/lock-core';
import { quorumError } from './errors.js';
import { onAllNodes } from './fan-out.js';
import type { Vote } from './majority-grant.js';
import type { RedlockNode } from './node.js';
import type { Quorum } from './quorum.js';

/**
 * The fencing token is the largest answer among the granting majority, where each node answers
 * max(its counter + 1, its own time in µs) and stores that answer as its counter (lock-redis's
 * acquire scripts). The largest answer alone does not grow strictly: counters drift apart when
 * nodes miss grants (down, slow, or granting a minority in a failed attempt), and a later
 * majority may overlap this one only on a node whose counter is behind. So before the grant is
 * reported, every granting node whose counter is behind the token is raised to it (INCRBY the
 * difference: nobody else writes a counter while we hold its key exclusively on that node, and
 * INCRBY only ever raises it). Once a majority sits at the token or above, any later majority
 * includes one of those nodes, whose next answer exceeds the token; and if every such node lost
 * its counter (wiped, restarted without persistence, counter reclaimed), the time floors of the
 * next majority still put its token above this one unless all their clocks are behind the clock
 * that issued this token by more than the time between the two grants.
 *
 * Only for exclusive grants (a mutex, a write, a semaphore of limit 1). In the steady state all
 * counters agree and this costs nothing. Resolves `undefined` once a majority sits at the token,
 * or the LockBackendError to reject the attempt with when too few nodes could be raised (the
 * caller undoes its grants first).
 */
export async function alignCounters(
  q: Quorum,
  key: string,
  fenceKey: string,
  voters: readonly Vote[],
  token: bigint,
  /**
   * Raises one node's counter by `delta`, to `token`; rejects when it could not. An election
   * raises its leader hash's term with it (see election/election-campaign.ts).
   * @default INCRBY of `fenceKey`
   */
  raise: (node: RedlockNode, delta: bigint, token: bigint) => Promise<unknown> = (node, delta) =>
    node.client.incrby(fenceKey, String(delta)),
): Promise<LockBackendError | undefined> {
  const behind = voters.filter((v) => v.value.fencingToken < token);
  const level = voters.length - behind.length;
  if (level >= q.size) return undefined;
  const deltas = new Map(behind.map((v) => [v.index, token - v.value.fencingToken]));
  const outcomes = await onAllNodes(
    q.nodes.filter((node) => deltas.has(node.index)),
    'acquire',
    key,
    (node) => raise(node, deltas.get(node.index)!, token),
    (reply) => reply,
    q.nodeTimeoutMs,
  );
  const raised = outcomes.filter((o) => o.ok).length;
  if (level + raised >= q.size) return undefined;
  return quorumError(
    'acquire',
    key,
    'could not raise the fencing counter on a majority of nodes',
    outcomes,
  );
}
