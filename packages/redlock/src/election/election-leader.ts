import type { LeaderState } from '@dlock/lock-core/spi';
import { quorumError } from '../errors.js';
import { answers, onAllNodes } from '../fan-out.js';
import type { Quorum } from '../quorum.js';
import { rankedDescending } from '../validity.js';
import { electionKeys } from './election-keys.js';
import { decodeLeaderReply, ELECTION_COMMANDS, electionScripts } from './election-scripts.js';

/**
 * The leader a majority of nodes agrees on: the same owner, term and value on at least a quorum
 * of nodes, with the remaining lease a majority still has (the quorum-th largest). `null` when no
 * leader, term and value hold a majority (none, expired, or a value proclaimed on too few
 * nodes); a LockBackendError when the nodes that did not answer could change that answer.
 */
export async function leaderOnQuorum(q: Quorum, name: string): Promise<LeaderState | null> {
  const keys = electionKeys(q.prefix, name);
  const outcomes = await onAllNodes(
    q.nodes,
    'leader',
    name,
    (node) => electionScripts(node)[ELECTION_COMMANDS.leader](keys.leader),
    decodeLeaderReply,
    q.nodeTimeoutMs,
  );
  const groups = new Map<string, { state: LeaderState; ttls: number[] }>();
  for (const { value } of answers(outcomes)) {
    if (value === null) continue;
    // JSON: owner and value may contain anything, the pair must not be ambiguous.
    const id = JSON.stringify([value.owner, value.value, String(value.term)]);
    const group = groups.get(id) ?? { state: value, ttls: [] };
    group.ttls.push(value.ttlMs);
    groups.set(id, group);
  }
  let largest = 0;
  for (const { state, ttls } of groups.values()) {
    largest = Math.max(largest, ttls.length);
    if (ttls.length < q.size) continue;
    const { owner, value, term } = state;
    return { owner, value, term, ttlMs: rankedDescending(ttls, q.size) };
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  if (largest + failed < q.size) return null;
  throw quorumError(
    'leader',
    name,
    `quorum unreachable: ${failed} of ${q.nodes.length} nodes did not answer`,
    outcomes,
  );
}
