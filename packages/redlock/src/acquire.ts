import type { AcquireRequest, AcquireResult } from '@dlock/lock-core/spi';
import {
  COMMANDS,
  decodeAcquireReply,
  decodeReleaseReply,
  lockKeys,
} from '@dlock/lock-redis/internals';
import { alignCounters } from './align-counters.js';
import { quorumError } from './errors.js';
import { answers, type NodeOutcome, onAllNodes } from './fan-out.js';
import {
  grantDecided,
  grantValidity,
  grantVotes,
  majorityGrant,
  spentGrantError,
  type Vote,
} from './majority-grant.js';
import type { Quorum } from './quorum.js';
import { releaseCall } from './release.js';

/**
 * Every node floors a fresh token at the same value, this client's wall clock in µs, and at its
 * own clock less this slack (lock-redis's acquire script, ARGV[4] and ARGV[5]). Each node's own
 * time alone makes the answers differ by a few µs at every grant, and then `alignCounters` costs
 * one more round trip per acquire; with one floor for all, nodes whose counters agree answer the
 * same token and the raise is needed only after a node missed grants. The slack is what the
 * node's own clock gives up: a lost counter (purged, reclaimed, a restart without persistence)
 * still restarts above every token issued more than 1 s before, whatever the caller's clock says,
 * and above later ones as long as the caller's clock is not behind the one that issued them.
 */
export const TIME_FLOOR_SLACK_US = '1000000';

/** This client's wall clock in µs since the epoch, as a decimal string. */
export function wallMicros(): string {
  return String(Math.floor((performance.timeOrigin + performance.now()) * 1000));
}

/**
 * One Redlock attempt: lock-redis's acquire script on every node at once; granted only when a
 * majority granted (a majority of re-entries for a re-entry) and time is left of the validity
 * `ttl - elapsed - drift`. Otherwise every partial grant is undone before the attempt returns, so
 * a failed attempt leaves nothing behind for the next one to trip over.
 *
 * Refused (busy) when other owners hold enough nodes; rejects with a LockBackendError listing
 * every node's failure when too few nodes answered for any majority to be possible.
 */
export async function acquireOnQuorum(q: Quorum, request: AcquireRequest): Promise<AcquireResult> {
  const keys = lockKeys(q.prefix, request.key);
  const start = q.now();
  const floor = wallMicros();
  const outcomes = await onAllNodes(
    q.nodes,
    'acquire',
    request.key,
    (node) =>
      node.scripts[COMMANDS.acquire]!(
        keys.lock,
        keys.fence,
        keys.wait,
        request.owner,
        request.ttlMs,
        q.fencingRetentionMs,
        floor,
        TIME_FLOOR_SLACK_US,
      ),
    decodeAcquireReply,
    q.nodeTimeoutMs,
    true,
    (partial) => grantDecided(q, partial),
  );
  const granted = grantVotes(outcomes);
  const grant = majorityGrant(q, granted);
  if (grant !== undefined) {
    const { fencingToken, reentered, voters } = grant;
    if (!reentered) {
      const misaligned = await alignCounters(q, request.key, keys.fence, voters, fencingToken);
      if (misaligned !== undefined) {
        await undoPartialGrant(q, request.key, outcomes, granted, releaseCall(keys, request.owner));
        throw misaligned;
      }
    }
    const validity = grantValidity(q, voters, request.ttlMs, start);
    if (validity.validityMs >= 1) {
      return { acquired: true, fencingToken, reentered, ttlMs: validity.validityMs };
    }
    await undoPartialGrant(q, request.key, outcomes, granted, releaseCall(keys, request.owner));
    throw spentGrantError(request.key, 'the lock', validity);
  }

  await undoPartialGrant(q, request.key, outcomes, granted, releaseCall(keys, request.owner));
  const answered = outcomes.length - outcomes.filter((o) => !o.ok).length;
  if (answered < q.size) {
    throw quorumError(
      'acquire',
      request.key,
      `quorum unreachable: ${answered} of ${q.nodes.length} nodes answered, ${q.size} needed`,
      outcomes,
    );
  }
  return { acquired: false, retryAfterMs: freeInMs(q, outcomes) };
}

/**
 * When a majority could be free again if the holders stop renewing: the refusing nodes expire
 * one by one, and once enough of them did, the nodes that did not refuse complete a majority.
 * That is the holder's remaining validity, the bound of the core's safety re-check. When no
 * majority refused (a split vote between contenders), there is no holder to wait for: a short
 * random delay lets the contenders' next attempts spread out instead of colliding again.
 */
export function freeInMs(
  q: Quorum,
  outcomes: readonly NodeOutcome<AcquireResult>[],
): number | undefined {
  const pttls: number[] = [];
  let refusals = 0;
  for (const { value } of answers(outcomes)) {
    if (value.acquired) continue;
    refusals++;
    if (value.retryAfterMs !== undefined) pttls.push(value.retryAfterMs);
  }
  const needed = q.size - (q.nodes.length - refusals);
  if (needed <= 0) return Math.ceil(Math.random() * q.nodeTimeoutMs);
  if (pttls.length < refusals) return undefined; // a holder without expiry: no bound to give
  return pttls.sort((a, b) => a - b)[needed - 1];
}

/**
 * Gives back what a failed attempt took, on every node that may have granted it: those that said
 * so and those that did not answer (the script may have run anyway). Not where the attempt
 * re-entered, though: there a node that did not answer may not have counted the re-entry, and a
 * release would take away a hold the owner had before. Bounded by the node timeout; a grant that
 * cannot be undone expires with its TTL.
 */
export async function undoPartialGrant(
  q: Quorum,
  key: string,
  outcomes: readonly NodeOutcome<AcquireResult>[],
  granted: readonly Vote[],
  /** One node's owner-checked release of the hold (the mutex's, or an election's resign). */
  release: (node: Quorum['nodes'][number]) => Promise<unknown>,
): Promise<void> {
  const reentered = granted.some((vote) => vote.value.reentered);
  const targets = q.nodes.filter((node) => {
    const outcome = outcomes[node.index];
    if (outcome?.ok) return outcome.value.acquired;
    return !reentered;
  });
  if (targets.length === 0) return;
  await onAllNodes(targets, 'acquire', key, release, decodeReleaseReply, q.nodeTimeoutMs);
}
