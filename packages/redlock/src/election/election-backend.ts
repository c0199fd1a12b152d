import type { ElectionBackend, ElectionCapabilities } from '@dlock/lock-core/spi';
import { decodeReleaseReply } from '@dlock/lock-redis/internals';
import { renewBatchOnQuorum } from '../batch-renewal.js';
import { quorumError } from '../errors.js';
import { answers, onAllNodes } from '../fan-out.js';
import type { Quorum } from '../quorum.js';
import { releaseOnAllNodes } from '../quorum-release.js';
import { renewOnQuorum } from '../quorum-renewal.js';
import { watchChannelOnQuorum } from '../watch.js';
import { campaignOnQuorum } from './election-campaign.js';
import { electionKeys } from './election-keys.js';
import { leaderOnQuorum } from './election-leader.js';
import { ELECTION_COMMANDS, electionScripts } from './election-scripts.js';

const ELECTION_CAPABILITIES: ElectionCapabilities = Object.freeze({
  watch: true,
  nativeWait: false,
  batchExtend: true,
});

/**
 * Leader elections over the Redlock quorum (the SPI's `ElectionBackend`), following the mutex:
 * each node keeps the election in a hash {owner, value, term, count} with a PX expiry; a
 * campaign leads when a majority granted it inside its validity (see election-campaign.ts for
 * the term), renewals count with a majority renewed inside the new validity, `resign` runs on
 * every node, and `leader()` is what a majority agrees on.
 *
 * - `proclaim` is owner-checked on every node and succeeds with a majority (the value a majority
 *   stores is what `leader()` reports); `false` when too few nodes still have this leader for any
 *   majority, an error when the nodes that did not answer decide it.
 * - No candidate queue: `queue` is ignored and `abandon` has nothing to remove (see
 *   election-campaign.ts). Whoever gathers a majority first after the leader goes leads.
 * - Every change (grant, proclaim, resign) publishes on the election's channel on that node; the
 *   watch subscribes on every node (as the mutex's). An expiry publishes nothing: the core's
 *   re-check at the leader's remaining lease covers it.
 */
export function createRedlockElection(
  q: Quorum,
  open: <T>(run: () => Promise<T>) => Promise<T>,
  /** The watch's coalescing window (copies of one change from different nodes). */
  windowMs: number,
): ElectionBackend {
  return {
    capabilities: ELECTION_CAPABILITIES,
    campaign: (request) => open(() => campaignOnQuorum(q, request)),
    extend: ({ key, owner, ttlMs }) =>
      open(() => {
        const keys = electionKeys(q.prefix, key);
        return renewOnQuorum(
          q,
          key,
          ttlMs,
          (node) =>
            electionScripts(node)[ELECTION_COMMANDS.extend](
              keys.leader,
              keys.fence,
              owner,
              ttlMs,
              q.fencingRetentionMs,
            ),
          'the leadership',
        );
      }),
    extendMany: (requests) =>
      open(() => {
        for (const node of q.nodes) electionScripts(node);
        return renewBatchOnQuorum(
          q,
          requests,
          (pipeline, i) => {
            const { key, owner, ttlMs } = requests[i]!;
            const keys = electionKeys(q.prefix, key);
            pipeline[ELECTION_COMMANDS.extend]!(
              keys.leader,
              keys.fence,
              owner,
              ttlMs,
              q.fencingRetentionMs,
            );
          },
          'leadership(s)',
        );
      }),
    proclaim: ({ key, owner, value }) =>
      open(async () => {
        const keys = electionKeys(q.prefix, key);
        const outcomes = await onAllNodes(
          q.nodes,
          'proclaim',
          key,
          (node) =>
            electionScripts(node)[ELECTION_COMMANDS.proclaim](
              keys.leader,
              keys.channel,
              owner,
              value,
            ),
          (reply) => Number(reply) === 1,
          q.nodeTimeoutMs,
        );
        const done = answers(outcomes).filter((a) => a.value).length;
        const failed = outcomes.filter((o) => !o.ok).length;
        if (done >= q.size) return true;
        if (done + failed < q.size) return false;
        throw quorumError(
          'proclaim',
          key,
          `cannot tell whether the value was proclaimed: ${done} of ${q.nodes.length} nodes took it, ${failed} did not answer, ${q.size} needed`,
          outcomes,
        );
      }),
    resign: ({ key, owner }) =>
      open(() => {
        const keys = electionKeys(q.prefix, key);
        return releaseOnAllNodes(
          q,
          key,
          (node) =>
            electionScripts(node)[ELECTION_COMMANDS.resign](keys.leader, keys.channel, owner),
          decodeReleaseReply,
          'the leadership',
        );
      }),
    // No candidate queue, so nothing to remove.
    abandon: () => open(async () => false),
    leader: (key) => open(() => leaderOnQuorum(q, key)),
    watch: (key, onChange) =>
      open(() =>
        watchChannelOnQuorum(q, key, electionKeys(q.prefix, key).channel, onChange, windowMs),
      ),
  };
}
