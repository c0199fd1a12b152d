import type { AcquireRequest, ExtendResult } from '@dlock/lock-core/spi';
import { COMMANDS, lockKeys } from '@dlock/lock-redis/internals';
import { renewBatchOnQuorum } from './batch-renewal.js';
import type { Quorum } from './quorum.js';

/**
 * `extend` for many locks: one pipeline per node, all nodes at once, so a batch costs about one
 * round trip however many locks it renews. Each lock is judged like a single extend (a majority
 * inside the new validity: renewed, with the validity left; too few holders for any majority: `false`). When some lock's
 * answer is unknown because nodes did not answer, the whole batch rejects: the SPI has no
 * per-lock "unknown", and `false` would declare a lock lost that may still be held. The core then
 * retries each of them; definite losses show up as `false` then.
 */
export async function extendManyOnQuorum(
  q: Quorum,
  requests: readonly AcquireRequest[],
): Promise<ExtendResult[]> {
  return renewBatchOnQuorum(
    q,
    requests,
    (pipeline, i) => {
      const { key, owner, ttlMs } = requests[i]!;
      const keys = lockKeys(q.prefix, key);
      pipeline[COMMANDS.extend]!(
        keys.lock,
        keys.fence,
        keys.wait,
        owner,
        ttlMs,
        q.fencingRetentionMs,
      );
    },
    'lock(s)',
  );
}
