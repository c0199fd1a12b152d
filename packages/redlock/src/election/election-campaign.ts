import type { AcquireResult, CampaignRequest } from '@dlock/lock-core/spi';
import { decodeAcquireReply } from '@dlock/lock-redis/internals';
import { freeInMs, TIME_FLOOR_SLACK_US, undoPartialGrant, wallMicros } from '../acquire.js';
import { alignCounters } from '../align-counters.js';
import { quorumError } from '../errors.js';
import { answers, onAllNodes } from '../fan-out.js';
import { grantValidity, grantVotes, majorityGrant, spentGrantError } from '../majority-grant.js';
import type { Quorum } from '../quorum.js';
import { electionKeys } from './election-keys.js';
import { ELECTION_COMMANDS, electionScripts } from './election-scripts.js';

/**
 * One Redlock campaign, as the mutex's `acquireOnQuorum`: the campaign script on every node at
 * once with one shared time floor; leader only when a majority granted (a majority of re-entries
 * for a re-campaign) and time is left of the validity `ttl - elapsed - drift`. Otherwise every
 * partial grant is resigned before the attempt returns.
 *
 * The term is the mutex's fencing rule: the largest term among the granting majority, each
 * node's answer being max(its counter + 1, the floor). Granting nodes behind it have their hash's
 * term and their counter raised to it before the grant is reported (as `alignCounters` raises
 * the mutex's counters), so a majority stores the one term (what `leader()` reads) and any later
 * majority, which overlaps this one, answers above it.
 *
 * No candidate queue (`queue` is ignored): per-node queues do not combine into one order across
 * independent nodes (see shared-backend.ts); whoever gathers a majority first after the leader
 * goes leads.
 */
export async function campaignOnQuorum(q: Quorum, r: CampaignRequest): Promise<AcquireResult> {
  const keys = electionKeys(q.prefix, r.key);
  const start = q.now();
  const floor = wallMicros();
  const outcomes = await onAllNodes(
    q.nodes,
    'campaign',
    r.key,
    (node) =>
      electionScripts(node)[ELECTION_COMMANDS.campaign](
        keys.leader,
        keys.fence,
        keys.channel,
        r.owner,
        r.ttlMs,
        q.fencingRetentionMs,
        r.value,
        floor,
        TIME_FLOOR_SLACK_US,
      ),
    decodeAcquireReply,
    q.nodeTimeoutMs,
    true,
  );
  const granted = grantVotes(outcomes);
  const resign = (node: Parameters<typeof electionScripts>[0]) =>
    electionScripts(node)[ELECTION_COMMANDS.resign](keys.leader, keys.channel, r.owner);
  const undo = () => undoPartialGrant(q, r.key, outcomes, granted, resign);

  const grant = majorityGrant(q, granted);
  if (grant !== undefined) {
    const { fencingToken, reentered, voters } = grant;
    if (!reentered) {
      const misaligned = await alignCounters(
        q,
        r.key,
        keys.fence,
        voters,
        fencingToken,
        async (node, _delta, term) => {
          const raised = await electionScripts(node)[ELECTION_COMMANDS.raise](
            keys.leader,
            keys.fence,
            r.owner,
            String(term),
            q.fencingRetentionMs,
          );
          if (Number(raised) !== 1) throw new Error('the candidate no longer leads on this node');
        },
      );
      if (misaligned !== undefined) {
        await undo();
        throw misaligned;
      }
    }
    const validity = grantValidity(q, voters, r.ttlMs, start);
    if (validity.validityMs >= 1) {
      return { acquired: true, fencingToken, reentered, ttlMs: validity.validityMs };
    }
    await undo();
    throw spentGrantError(r.key, 'the leadership', validity);
  }

  await undo();
  const answered = answers(outcomes).length;
  if (answered < q.size) {
    throw quorumError(
      'campaign',
      r.key,
      `quorum unreachable: ${answered} of ${q.nodes.length} nodes answered, ${q.size} needed`,
      outcomes,
    );
  }
  return { acquired: false, retryAfterMs: freeInMs(q, outcomes) };
}
