import type { AcquireRequest, ExtendResult } from '@dlock/lock-core/spi';
import { COMMANDS, lockKeys } from '@dlock/lock-redis/internals';
import { quorumError } from './errors.js';
import { answers, onAllNodes } from './fan-out.js';
import type { Quorum } from './quorum.js';
import { driftMs, validityMs } from './validity.js';

/**
 * Owner-checked renewal on every node at once (lock-redis's extend script: PEXPIRE only, so an
 * expired node is never revived). Renewed (with the validity left) only with a majority renewed
 * inside the new validity.
 * `false` when too few nodes hold it for any majority, even counting those that did not answer:
 * the lock is lost, and the core aborts `lock.signal`. Otherwise (nodes down or slow) it is
 * unknown, and the rejection lets the watchdog retry until the TTL runs out.
 */
export async function extendOnQuorum(q: Quorum, request: AcquireRequest): Promise<ExtendResult> {
  const keys = lockKeys(q.prefix, request.key);
  const start = q.now();
  const outcomes = await onAllNodes(
    q.nodes,
    'extend',
    request.key,
    (node) =>
      node.scripts[COMMANDS.extend]!(
        keys.lock,
        keys.fence,
        keys.wait,
        request.owner,
        request.ttlMs,
        q.fencingRetentionMs,
      ),
    (reply) => Number(reply) === 1,
    q.nodeTimeoutMs,
  );
  const renewed = answers(outcomes).filter((a) => a.value).length;
  const failed = outcomes.filter((o) => !o.ok).length;
  const validity = validityMs(
    request.ttlMs,
    q.now() - start,
    driftMs(request.ttlMs, q.driftFactor),
  );
  // The validity, not the requested TTL: the core's estimate (and lock.signal) then ends where
  // Redlock's guarantee does, inside the drift allowance, as it does for a grant.
  if (renewed >= q.size && validity >= 1) return { ttlMs: validity };
  if (renewed + failed < q.size) return false;
  throw quorumError(
    'extend',
    request.key,
    renewed >= q.size
      ? `a majority renewed the lock but the renewal's validity was spent`
      : `quorum unreachable: ${renewed} of ${q.nodes.length} nodes renewed, ${failed} did not answer, ${q.size} needed`,
    outcomes,
  );
}
