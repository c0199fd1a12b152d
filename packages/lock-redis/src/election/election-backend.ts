import type {
  AcquireRequest,
  CampaignRequest,
  ElectionBackend,
  ElectionCapabilities,
  ExtendResult,
  OwnerRef,
  WatchHandle,
} from '@dlock/lock-core/spi';
import { extendBatch } from '../extend-batch.js';
import { awaitReplicas, type ReplicaWaitContext } from '../replica-wait.js';
import { decodeAcquireReply } from '../scripts/acquire.js';
import { ELECTION_ABANDON_COMMAND } from '../scripts/election-abandon.js';
import { ELECTION_CAMPAIGN_COMMAND } from '../scripts/election-campaign.js';
import { ELECTION_EXTEND_COMMAND } from '../scripts/election-extend.js';
import { decodeLeaderReply, ELECTION_LEADER_COMMAND } from '../scripts/election-leader.js';
import { ELECTION_PROCLAIM_COMMAND } from '../scripts/election-proclaim.js';
import { ELECTION_RESIGN_COMMAND } from '../scripts/election-resign.js';
import { defineElectionScripts } from '../scripts/election-scripts.js';
import { decodeReleaseReply } from '../scripts/release.js';
import type { SharedBackendContext } from '../shared-backend.js';
import { electionKeys } from './election-keys.js';

const ELECTION_CAPABILITIES: ElectionCapabilities = Object.freeze({
  // Grants, proclaims and resignations publish on the election's channel; an expiry does not
  // (no keyspace notifications needed): the core re-checks within the leader's remaining lease.
  watch: true,
  nativeWait: false,
  batchExtend: true,
});

/** What the election borrows from the backend that owns it (as the shared keys do). */
export type ElectionBackendContext = Omit<SharedBackendContext, 'scripts'> & {
  readonly replicas: ReplicaWaitContext;
};

/**
 * Leader elections on Redis (the SPI's `ElectionBackend`): the leader is one hash with a PX
 * lease, its term a fresh token of the election's own fencing counter, every change one Lua
 * script in the election's slot (see `ElectionKeys`). Candidates that may wait (`queue`) line
 * up in a server-side queue with waiter leases on Redis's clock, so leadership passes in arrival
 * order across processes.
 */
export function createElectionBackend(context: ElectionBackendContext): ElectionBackend {
  const { client, prefix, runner, subscriber, publishSharded, retention, open } = context;
  const scripts = defineElectionScripts(client);
  const extendArgs = ({ key, owner, ttlMs }: AcquireRequest): Array<string | number> => {
    const k = electionKeys(prefix, key);
    return [k.leader, k.fence, owner, ttlMs, retention];
  };

  async function extend(request: AcquireRequest): Promise<ExtendResult> {
    open();
    const reply = await runner.run('extend', request.key, () =>
      scripts[ELECTION_EXTEND_COMMAND](...extendArgs(request)),
    );
    return Number(reply) === 1;
  }

  async function resign({ key, owner }: OwnerRef, operation: string) {
    open();
    const k = electionKeys(prefix, key);
    const reply = await runner.run(operation, key, () =>
      scripts[ELECTION_RESIGN_COMMAND](k.leader, k.channel, publishSharded, owner),
    );
    return decodeReleaseReply(reply);
  }

  return {
    capabilities: ELECTION_CAPABILITIES,

    async campaign(request: CampaignRequest) {
      open();
      const k = electionKeys(prefix, request.key);
      const result = decodeAcquireReply(
        await runner.run('campaign', request.key, () =>
          scripts[ELECTION_CAMPAIGN_COMMAND](
            k.leader,
            k.fence,
            k.queue,
            k.queueExpiry,
            k.channel,
            publishSharded,
            request.owner,
            request.ttlMs,
            retention,
            request.value,
            request.queue ? '1' : '0',
          ),
        ),
      );
      // A fresh leadership is counted like a fresh mutex grant; too few copies resign it.
      if (result.acquired && !result.reentered && context.replicas.options.waitForReplicas > 0) {
        await awaitReplicas(context.replicas, 'campaign', request.key, k.leader, () =>
          resign(request, 'campaign'),
        );
      }
      return result;
    },

    extend,

    async extendMany(requests) {
      open();
      return extendBatch(client, runner, ELECTION_EXTEND_COMMAND, requests, extendArgs, (r) =>
        extend(r).then((renewed) => renewed === true),
      );
    },

    async proclaim({ key, owner, value }) {
      open();
      const k = electionKeys(prefix, key);
      const reply = await runner.run('proclaim', key, () =>
        scripts[ELECTION_PROCLAIM_COMMAND](k.leader, k.channel, publishSharded, owner, value),
      );
      return Number(reply) === 1;
    },

    resign: (request) => resign(request, 'resign'),

    async abandon({ key, owner }) {
      open();
      const k = electionKeys(prefix, key);
      const reply = await runner.run('abandon', key, () =>
        scripts[ELECTION_ABANDON_COMMAND](
          k.leader,
          k.queue,
          k.queueExpiry,
          k.channel,
          publishSharded,
          owner,
        ),
      );
      return Number(reply) === 1;
    },

    async leader(key) {
      open();
      const k = electionKeys(prefix, key);
      return decodeLeaderReply(
        await runner.run('leader', key, () => scripts[ELECTION_LEADER_COMMAND](k.leader)),
      );
    },

    watch(key: string, onChange: () => void): Promise<WatchHandle> {
      return subscriber.watch(electionKeys(prefix, key).channel, onChange);
    },
  };
}
