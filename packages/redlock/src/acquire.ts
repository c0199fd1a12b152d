import { LockBackendError } from '@dlock/lock-core';
import type { AcquireRequest, AcquireResult, Granted } from '@dlock/lock-core/spi';
import {
  COMMANDS,
  decodeAcquireReply,
  decodeReleaseReply,
  type LockKeys,
  lockKeys,
} from '@dlock/lock-redis/internals';
import { quorumError } from './errors.js';
import { answers, type NodeOutcome, onAllNodes } from './fan-out.js';
import type { Quorum } from './quorum.js';
import { releaseCall } from './release.js';
import { maxToken } from './tokens.js';
import { driftMs, rankedDescending, validityMs } from './validity.js';

interface Vote {
  readonly index: number;
  readonly value: Granted;
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
      ),
    decodeAcquireReply,
    q.nodeTimeoutMs,
    true,
  );
  const granted: Vote[] = [];
  for (const answer of answers(outcomes)) {
    if (answer.value.acquired) granted.push({ index: answer.index, value: answer.value });
  }
  const reentries = granted.filter((vote) => vote.value.reentered);
  const fresh = granted.length - reentries.length;
  // A re-entry must re-enter the same grant on a majority; a mix of re-entries and fresh grants
  // means the original hold lost its majority (a node lost its data): neither kind is trusted.
  const kind = reentries.length >= q.size ? 'reentry' : fresh >= q.size ? 'fresh' : undefined;

  if (kind !== undefined) {
    const voters = kind === 'reentry' ? reentries : granted;
    const fencingToken = maxToken(voters.map((v) => v.value.fencingToken));
    if (kind === 'fresh') {
      const aligned = await alignCounters(q, request.key, keys, voters, fencingToken);
      if (aligned !== true) {
        await undo(q, request, keys, outcomes, granted);
        throw quorumError(
          'acquire',
          request.key,
          `could not raise the fencing counter on a majority of nodes`,
          aligned,
        );
      }
    }
    const basis = rankedDescending(
      voters.map((v) => v.value.ttlMs),
      q.size,
    );
    const drift = driftMs(request.ttlMs, q.driftFactor);
    const elapsed = q.now() - start;
    const validity = validityMs(basis, elapsed, drift);
    if (validity >= 1) {
      return { acquired: true, fencingToken, reentered: kind === 'reentry', ttlMs: validity };
    }
    // The quorum answered too late for the lock to be of any use: it may already be expiring on
    // some nodes. Never hand out a lock whose validity is spent.
    await undo(q, request, keys, outcomes, granted);
    throw new LockBackendError(
      'redlock',
      'acquire',
      new Error(
        `a majority granted the lock but its validity was spent: the nodes took ${Math.round(elapsed)} ms and the drift allowance is ${drift} ms of a ${request.ttlMs} ms TTL; use a longer ttlMs`,
      ),
      request.key,
    );
  }

  await undo(q, request, keys, outcomes, granted);
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
function freeInMs(q: Quorum, outcomes: readonly NodeOutcome<AcquireResult>[]): number | undefined {
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
 * The fencing token is the largest answer among the granting majority, where each node answers
 * max(its counter + 1, its own time in µs) and stores that answer as its counter (lock-redis's
 * acquire script). The largest answer alone does not grow strictly: counters drift apart when
 * nodes miss grants (down, slow, or granting a minority in a failed attempt), and a later
 * majority may overlap this one only on a node whose counter is behind. So before the grant is
 * reported, every granting node whose counter is behind the token is raised to it (INCRBY the
 * difference: nobody else writes a counter while we hold its lock on that node, and INCRBY only
 * ever raises it). Once a majority sits at the token or above, any later majority includes one of
 * those nodes, whose next answer exceeds the token; and if every such node lost its counter
 * (wiped, restarted without persistence, counter reclaimed), the time floors of the next
 * majority still put its token above this one unless all their clocks are behind the clock that
 * issued this token by more than the time between the two grants.
 *
 * In the steady state all counters agree and this costs nothing. Returns `true`, or the
 * outcomes of the raise when too few nodes could be raised.
 */
async function alignCounters(
  q: Quorum,
  key: string,
  keys: LockKeys,
  voters: readonly Vote[],
  token: bigint,
): Promise<true | NodeOutcome<unknown>[]> {
  const behind = voters.filter((v) => v.value.fencingToken < token);
  const level = voters.length - behind.length;
  if (level >= q.size) return true;
  const deltas = new Map(behind.map((v) => [v.index, token - v.value.fencingToken]));
  const outcomes = await onAllNodes(
    q.nodes.filter((node) => deltas.has(node.index)),
    'acquire',
    key,
    (node) => node.client.incrby(keys.fence, String(deltas.get(node.index))),
    (reply) => reply,
    q.nodeTimeoutMs,
  );
  const raised = outcomes.filter((o) => o.ok).length;
  return level + raised >= q.size ? true : outcomes;
}

/**
 * Gives back what a failed attempt took, on every node that may have granted it: those that said
 * so and those that did not answer (the script may have run anyway). Not where the attempt
 * re-entered, though: there a node that did not answer may not have counted the re-entry, and a
 * release would take away a hold the owner had before. Bounded by the node timeout; a grant that
 * cannot be undone expires with its TTL.
 */
async function undo(
  q: Quorum,
  request: AcquireRequest,
  keys: LockKeys,
  outcomes: readonly NodeOutcome<AcquireResult>[],
  granted: readonly Vote[],
): Promise<void> {
  const reentered = granted.some((vote) => vote.value.reentered);
  const targets = q.nodes.filter((node) => {
    const outcome = outcomes[node.index];
    if (outcome?.ok) return outcome.value.acquired;
    return !reentered;
  });
  if (targets.length === 0) return;
  await onAllNodes(
    targets,
    'acquire',
    request.key,
    releaseCall(keys, request.owner),
    decodeReleaseReply,
    q.nodeTimeoutMs,
  );
}
