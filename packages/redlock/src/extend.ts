import type { AcquireRequest, ExtendResult } from '@dlock/lock-core/spi';
import { COMMANDS, lockKeys } from '@dlock/lock-redis/internals';
import type { Quorum } from './quorum.js';
import { renewOnQuorum } from './quorum-renewal.js';

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
  return renewOnQuorum(
    q,
    request.key,
    request.ttlMs,
    (node) =>
      node.scripts[COMMANDS.extend]!(
        keys.lock,
        keys.fence,
        keys.wait,
        request.owner,
        request.ttlMs,
        q.fencingRetentionMs,
      ),
    'the lock',
  );
}
