import type { LeaseRef } from '@dlock/lock-core/spi';
import { COMMANDS } from '@dlock/lock-redis/internals';
import { removeOnAnyNode } from './any-node-removal.js';
import type { RedlockNode } from './node.js';
import type { Quorum } from './quorum.js';
import { leaseHead } from './shared-keys.js';

/**
 * A waiter gave up: remove its queue entry on every node (each node's script announces when that
 * lets its next entry in). `true` when any node had one. Rejects only when no node had one and
 * too few answered to say so; an entry left on a node that did not answer lapses with its
 * waiter lease (the request's `ttlMs`).
 */
export async function sharedAbandonOnQuorum(q: Quorum, request: LeaseRef): Promise<boolean> {
  return removeOnAnyNode(q, 'abandon', request.key, sharedAbandonCall(q, request));
}

/** One node's call of lock-redis's shared abandon script. */
export function sharedAbandonCall(q: Quorum, request: LeaseRef) {
  const args = leaseHead(q, request);
  return (node: RedlockNode) => node.scripts[COMMANDS.sharedAbandon]!(...args);
}
