import type { ExtendResult, LeaseRef } from '@dlock/lock-core/spi';
import { COMMANDS } from '@dlock/lock-redis/internals';
import type { Quorum } from './quorum.js';
import { renewOnQuorum } from './quorum-renewal.js';
import { leaseHead } from './shared-keys.js';

export type LeaseExtend = LeaseRef & { readonly ttlMs: number };

/** The arguments of lock-redis's shared extend script for one lease. */
export function sharedExtendArgs(q: Quorum, request: LeaseExtend): Array<string | number> {
  return [...leaseHead(q, request), request.ttlMs];
}

/**
 * Owner-checked renewal of one lease on every node at once, judged as the mutex's
 * `extendOnQuorum`: renewed (with the validity left) with a majority inside the new validity;
 * `false` when too few nodes hold the lease for any majority even counting those that did not
 * answer (the lease is lost); otherwise a LockBackendError, and the watchdog retries. Each node's
 * script sets only this lease's deadline, so renewing one reader never revives another.
 */
export async function sharedExtendOnQuorum(q: Quorum, request: LeaseExtend): Promise<ExtendResult> {
  const args = sharedExtendArgs(q, request);
  return renewOnQuorum(
    q,
    request.key,
    request.ttlMs,
    (node) => node.scripts[COMMANDS.sharedExtend]!(...args),
    `the ${request.kind} lease`,
  );
}
