import type { LeaseState, SharedState } from '@dlock/lock-core/spi';
import {
  byGrantOrder,
  COMMANDS,
  decodeSharedInspectReply,
  type SharedFamily,
  sharedScriptKeys,
} from '@dlock/lock-redis/internals';
import { quorumError } from './errors.js';
import { answers, onAllNodes } from './fan-out.js';
import type { Quorum } from './quorum.js';
import { sharedKeysOf } from './shared-keys.js';
import { maxToken } from './tokens.js';
import { rankedDescending } from './validity.js';

/**
 * The majority view of a shared key: a lease counts when the same owner holds the same kind on a
 * majority of nodes; its count, permits and remaining TTL are what a majority still has (the
 * quorum-th largest), its token the largest among them (as at the grant). `waiters` is the
 * quorum-th largest of the nodes' counts (at least that many entries live on a majority); the
 * limit is the one most nodes store. `null` when no lease holds a majority and no majority has a
 * waiter. A LockBackendError when the nodes that did not answer could change the answer.
 */
export async function sharedInspectOnQuorum(
  q: Quorum,
  family: SharedFamily,
  key: string,
): Promise<SharedState | null> {
  const keys = sharedScriptKeys(sharedKeysOf(q, family, key));
  const outcomes = await onAllNodes(
    q.nodes,
    'inspect',
    key,
    (node) => node.scripts[COMMANDS.sharedInspect]!(...keys),
    (reply) => decodeSharedInspectReply(reply, family, key),
    q.nodeTimeoutMs,
  );
  const replies = answers(outcomes);
  const failed = outcomes.length - replies.length;
  const unreachable = () =>
    quorumError(
      'inspect',
      key,
      `quorum unreachable: ${failed} of ${q.nodes.length} nodes did not answer`,
      outcomes,
    );
  if (replies.length < q.size) throw unreachable();

  const byLease = new Map<string, LeaseState[]>();
  const limits = new Map<number, number>();
  const waiters: number[] = [];
  for (const { value } of replies) {
    waiters.push(value?.waiters ?? 0);
    if (value === null) continue;
    limits.set(value.limit, (limits.get(value.limit) ?? 0) + 1);
    for (const lease of value.holders) {
      const id = `${lease.kind}\u0000${lease.owner}`;
      const seen = byLease.get(id) ?? [];
      seen.push(lease);
      byLease.set(id, seen);
    }
  }
  const holders: LeaseState[] = [];
  for (const seen of byLease.values()) {
    if (seen.length < q.size) {
      // Held on too few answering nodes, but the silent ones could make it a majority.
      if (seen.length + failed >= q.size) throw unreachable();
      continue;
    }
    const rank = (pick: (lease: LeaseState) => number) => rankedDescending(seen.map(pick), q.size);
    holders.push({
      kind: seen[0]!.kind,
      owner: seen[0]!.owner,
      count: rank((l) => l.count),
      permits: rank((l) => l.permits),
      ttlMs: rank((l) => l.ttlMs),
      fencingToken: maxToken(seen.map((l) => l.fencingToken ?? 0n)),
    });
  }
  holders.sort(byGrantOrder);
  const waiting = rankedDescending(waiters, q.size);
  if (holders.length === 0 && waiting === 0) return null;
  let limit = Number.POSITIVE_INFINITY;
  let votes = 0;
  for (const [value, count] of limits) {
    if (count > votes) [limit, votes] = [value, count];
  }
  return { key, limit, holders, waiters: waiting };
}
