import type { OwnerRef, ReleaseResult } from '@dlock/lock-core/spi';
import { COMMANDS, decodeReleaseReply, type LockKeys, lockKeys } from '@dlock/lock-redis/internals';
import type { RedlockNode } from './node.js';
import type { Quorum } from './quorum.js';
import { releaseOnAllNodes } from './quorum-release.js';

/**
 * Release on every node at once, exactly once per node (no retry loop): each node runs
 * lock-redis's owner-checked release script, so a node where the hold already expired simply
 * answers "not held". The lock counted as held only while a majority held it, so:
 * - a majority released or decremented: `released` (or `decremented` when a majority still
 *   holds re-entries);
 * - too few held it for any majority, even counting the nodes that did not answer: `not-held`
 *   (it had already expired or been taken over; nothing to report as an error);
 * - otherwise the nodes that did not answer decide it, and we cannot tell: LockBackendError with
 *   their causes. Whatever they still hold expires with its TTL.
 */
export async function releaseOnQuorum(q: Quorum, request: OwnerRef): Promise<ReleaseResult> {
  const keys = lockKeys(q.prefix, request.key);
  return releaseOnAllNodes(
    q,
    request.key,
    releaseCall(keys, request.owner),
    decodeReleaseReply,
    'the lock',
  );
}

/** One node's call of lock-redis's owner-checked release script (classic PUBLISH: `'0'`). */
export function releaseCall(keys: LockKeys, owner: string) {
  return (node: RedlockNode) =>
    node.scripts[COMMANDS.release]!(keys.lock, keys.fence, keys.wait, owner, keys.channel, '0');
}
