import { type AcquireResult, LockLimitError, LockUpgradeError } from '@dlock/lock-core';
import type { LeaseAcquireRequest } from '@dlock/lock-core/spi';
import { COMMANDS, decodeSharedAcquireReply } from '@dlock/lock-redis/internals';
import { alignCounters } from './align-counters.js';
import { quorumError } from './errors.js';
import { answers, type NodeOutcome, onAllNodes } from './fan-out.js';
import { grantValidity, majorityGrant, spentGrantError, type Vote } from './majority-grant.js';
import type { RedlockNode } from './node.js';
import type { Quorum } from './quorum.js';
import { sharedAbandonCall } from './shared-abandon.js';
import { familyOf, leaseHead, sharedKeysOf } from './shared-keys.js';
import { sharedReleaseCall } from './shared-release.js';

/** One node's answer: the script's result, or the caller's mistake it reported. */
type NodeAnswer =
  | { readonly result: AcquireResult }
  | { readonly mistake: LockLimitError | LockUpgradeError };

/**
 * One Redlock attempt for a lease (see `shared-backend.ts` for what the quorum gives): lock-redis's
 * shared acquire script in quorum mode on every node at once; granted only when a majority
 * granted (a majority of re-entries for a re-entry) and time is left of the validity
 * `ttl - elapsed - drift`, as the mutex's `acquireOnQuorum`.
 *
 * - A failed quorum releases what the attempt was granted (the lease, never an earlier hold the
 *   attempt re-entered) and keeps its queue entries on the nodes that refused: a writer's entry
 *   there keeps new readers out of any majority while it waits.
 * - A grant drops the entries left on the nodes that refused (they would keep readers out of
 *   those nodes until they lapse).
 * - An upgrade or a limit mismatch reported by any node undoes everything and rejects with that
 *   typed error; so does a failure (unreachable quorum, spent validity), which also drops the
 *   queue entries: a caller that gets an error is no longer waiting.
 */
export async function sharedAcquireOnQuorum(
  q: Quorum,
  request: LeaseAcquireRequest,
): Promise<AcquireResult> {
  const keys = sharedKeysOf(q, familyOf(request.kind), request.key);
  const args = [
    ...leaseHead(q, request),
    request.ttlMs,
    request.limit,
    request.permits,
    request.changeLimit ? '1' : '0',
    request.queue ? '1' : '0',
    '1', // quorum mode: writer preference only, no strict FIFO (see shared-backend.ts)
  ];
  const start = q.now();
  const outcomes = await onAllNodes(
    q.nodes,
    'acquire',
    request.key,
    (node) => node.scripts[COMMANDS.sharedAcquire]!(...args),
    (reply): NodeAnswer => {
      try {
        return { result: decodeSharedAcquireReply(reply, request.key, request.limit) };
      } catch (error) {
        if (LockLimitError.isInstance(error) || LockUpgradeError.isInstance(error)) {
          return { mistake: error };
        }
        throw error;
      }
    },
    q.nodeTimeoutMs,
    true,
  );
  const granted: Vote[] = [];
  let mistake: LockLimitError | LockUpgradeError | undefined;
  for (const { index, value } of answers(outcomes)) {
    if ('mistake' in value) mistake ??= value.mistake;
    else if (value.result.acquired) granted.push({ index, value: value.result });
  }
  const cleanUp = (dropEntries: boolean): Promise<unknown> =>
    Promise.all([
      undo(q, request, outcomes, granted),
      dropEntries && request.queue ? abandonOn(q, request, q.nodes) : undefined,
    ]);
  if (mistake) {
    await cleanUp(true);
    throw mistake;
  }

  const grant = majorityGrant(q, granted);
  if (grant !== undefined) {
    const { fencingToken, reentered, voters } = grant;
    // A read carries the counter as it is (a majority of counters is at least the last write's
    // token, which that write aligned); semaphore and write grants align theirs as the mutex's.
    if (!reentered && request.kind !== 'read') {
      const misaligned = await alignCounters(q, request.key, keys.fence, voters, fencingToken);
      if (misaligned !== undefined) {
        await cleanUp(true);
        throw misaligned;
      }
    }
    const validity = grantValidity(q, voters, request.ttlMs, start);
    if (validity.validityMs >= 1) {
      if (request.queue) {
        const refusers = q.nodes.filter((node) => {
          const outcome = outcomes[node.index];
          return outcome?.ok && 'result' in outcome.value && !outcome.value.result.acquired;
        });
        if (refusers.length > 0) await abandonOn(q, request, refusers);
      }
      return { acquired: true, fencingToken, reentered, ttlMs: validity.validityMs };
    }
    await cleanUp(true);
    throw spentGrantError(request.key, `the ${request.kind} lease`, validity);
  }

  const answered = answers(outcomes).length;
  if (answered < q.size) {
    await cleanUp(true);
    throw quorumError(
      'acquire',
      request.key,
      `quorum unreachable: ${answered} of ${q.nodes.length} nodes answered, ${q.size} needed`,
      outcomes,
    );
  }
  await cleanUp(false);
  return { acquired: false, retryAfterMs: retryAfter(q, request, outcomes) };
}

/**
 * When to try again, as the mutex's `freeInMs`: the time until enough refusing nodes could be
 * free to complete a majority (each node's refusal names its next lease or waiter deadline), or
 * a short random delay after a split vote, so that racing writers spread out instead of
 * colliding again. A queued request never waits longer than a third of its waiter lease (the
 * SPI's bound: the core's re-check then keeps the entries alive).
 */
function retryAfter(
  q: Quorum,
  request: LeaseAcquireRequest,
  outcomes: readonly NodeOutcome<NodeAnswer>[],
): number | undefined {
  const deadlines: number[] = [];
  let refusals = 0;
  for (const { value } of answers(outcomes)) {
    if (!('result' in value) || value.result.acquired) continue;
    refusals++;
    if (value.result.retryAfterMs !== undefined) deadlines.push(value.result.retryAfterMs);
  }
  const needed = q.size - (q.nodes.length - refusals);
  let retry: number | undefined;
  if (needed <= 0) retry = Math.ceil(Math.random() * q.nodeTimeoutMs);
  else if (deadlines.length === refusals) retry = deadlines.sort((a, b) => a - b)[needed - 1];
  if (!request.queue) return retry;
  const bound = Math.max(1, Math.floor(request.ttlMs / 3));
  return retry === undefined ? bound : Math.min(retry, bound);
}

/**
 * Gives back what a failed attempt was granted, on every node that may have granted it (as the
 * mutex's `undo`): those that said so (a release there takes back the fresh lease or the one
 * count a re-entry added) and, unless the attempt re-entered somewhere, those that did not
 * answer (there a release could take away a hold the owner had before). Bounded by the node
 * timeout; a grant that cannot be undone expires with its TTL, so node failures here are not
 * reported.
 */
async function undo(
  q: Quorum,
  request: LeaseAcquireRequest,
  outcomes: readonly NodeOutcome<NodeAnswer>[],
  granted: readonly Vote[],
): Promise<void> {
  const reentered = granted.some((vote) => vote.value.reentered);
  const grantedOn = new Set(granted.map((v) => v.index));
  const targets = q.nodes.filter((node) =>
    outcomes[node.index]?.ok ? grantedOn.has(node.index) : !reentered,
  );
  if (targets.length === 0) return;
  await onAllNodes(
    targets,
    'acquire',
    request.key,
    sharedReleaseCall(q, request),
    (reply) => reply,
    q.nodeTimeoutMs,
  );
}

/** Drops the request's queue entries on `nodes` (best effort: an entry left lapses by its TTL). */
async function abandonOn(
  q: Quorum,
  request: LeaseAcquireRequest,
  nodes: readonly RedlockNode[],
): Promise<void> {
  await onAllNodes(
    nodes,
    'abandon',
    request.key,
    sharedAbandonCall(q, request),
    (reply) => reply,
    q.nodeTimeoutMs,
  );
}
