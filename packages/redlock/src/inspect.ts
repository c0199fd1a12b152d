import type { LockState } from '@dlock/lock-core/spi';
import {
  COMMANDS,
  decodeInspectReply,
  type InspectedHold,
  lockKeys,
} from '@dlock/lock-redis/internals';
import { quorumError } from './errors.js';
import { answers, type NodeOutcome, onAllNodes } from './fan-out.js';
import type { Quorum } from './quorum.js';
import { maxToken } from './tokens.js';
import { rankedDescending } from './validity.js';

/**
 * The holder is the owner found on a majority of nodes; count and remaining TTL are what a
 * majority still has (the quorum-th largest), and the fencing token is the largest among them,
 * as at the grant. `null` when no owner holds a majority; a LockBackendError when the nodes that
 * did not answer could change that answer.
 */
export async function inspectOnQuorum(q: Quorum, key: string): Promise<LockState | null> {
  return majorityHold(q, key, await inspectEveryNode(q, 'inspect', key));
}

/** The inspect script's reply from every node for `key` (shared with `list()`). */
export function inspectEveryNode(q: Quorum, operation: string, key: string) {
  const keys = lockKeys(q.prefix, key);
  return onAllNodes(
    q.nodes,
    operation,
    key,
    (node) => node.scripts[COMMANDS.inspect]!(keys.lock, keys.fence),
    decodeInspectReply,
    q.nodeTimeoutMs,
  );
}

/**
 * The hold a majority of `outcomes` (one inspect reply per node) agrees on, as
 * {@link inspectOnQuorum} describes; shared with `list()`.
 */
export function majorityHold(
  q: Quorum,
  key: string,
  outcomes: readonly NodeOutcome<InspectedHold | null>[],
): LockState | null {
  const byOwner = new Map<string, InspectedHold[]>();
  for (const { value } of answers(outcomes)) {
    if (value === null) continue;
    const holds = byOwner.get(value.owner) ?? [];
    holds.push(value);
    byOwner.set(value.owner, holds);
  }
  let largest = 0;
  for (const [owner, holds] of byOwner) {
    largest = Math.max(largest, holds.length);
    if (holds.length < q.size) continue;
    return {
      key,
      owner,
      count: rankedDescending(
        holds.map((h) => h.count),
        q.size,
      ),
      ttlMs: rankedDescending(
        holds.map((h) => h.ttlMs),
        q.size,
      ),
      fencingToken: maxToken(holds.map((h) => h.fencingToken)),
    };
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  if (largest + failed < q.size) return null;
  throw quorumError(
    'inspect',
    key,
    `quorum unreachable: ${failed} of ${q.nodes.length} nodes did not answer`,
    outcomes,
  );
}
