import type { LeaseRef, ReleaseResult } from '@dlock/lock-core/spi';
import { COMMANDS, decodeSharedReleaseReply } from '@dlock/lock-redis/internals';
import type { RedlockNode } from './node.js';
import type { Quorum } from './quorum.js';
import { releaseOnAllNodes } from './quorum-release.js';
import { leaseHead } from './shared-keys.js';

/**
 * Owner-checked release of one hold of one kind on every node at once, judged as the mutex's
 * `releaseOnQuorum`: `decremented` when a majority still holds re-entries, `released` when a
 * majority held it, `not-held` when too few held it for any majority even counting the nodes
 * that did not answer, else a LockBackendError (whatever those nodes hold expires with its TTL).
 * Each node's script announces on its own when its queue's head now fits.
 */
export async function sharedReleaseOnQuorum(q: Quorum, request: LeaseRef): Promise<ReleaseResult> {
  return releaseOnAllNodes(
    q,
    request.key,
    sharedReleaseCall(q, request),
    decodeSharedReleaseReply,
    `the ${request.kind} lease`,
  );
}

/** One node's call of lock-redis's owner-checked shared release script. */
export function sharedReleaseCall(q: Quorum, request: LeaseRef) {
  const args = leaseHead(q, request);
  return (node: RedlockNode) => node.scripts[COMMANDS.sharedRelease]!(...args);
}
