import type { ExtendResult } from '@dlock/lock-core/spi';
import { COMMANDS } from '@dlock/lock-redis/internals';
import { renewBatchOnQuorum } from './batch-renewal.js';
import type { Quorum } from './quorum.js';
import { type LeaseExtend, sharedExtendArgs } from './shared-extend.js';

/**
 * `extend` for many leases: one pipeline per node, all nodes at once (as the mutex's
 * `extendManyOnQuorum`). Each lease is judged like a single extend; when some lease's answer is
 * unknown because nodes did not answer, the whole batch rejects (the SPI has no per-lease
 * "unknown", and `false` would declare a lease lost that may still be held).
 */
export async function sharedExtendManyOnQuorum(
  q: Quorum,
  requests: readonly LeaseExtend[],
): Promise<ExtendResult[]> {
  const args = requests.map((request) => sharedExtendArgs(q, request));
  return renewBatchOnQuorum(
    q,
    requests,
    (pipeline, i) => pipeline[COMMANDS.sharedExtend]!(...args[i]!),
    'lease(s)',
  );
}
