import type { SharedFamily } from '@dlock/lock-redis/internals';
import { COMMANDS } from '@dlock/lock-redis/internals';
import { removeOnAnyNode } from './any-node-removal.js';
import type { Quorum } from './quorum.js';
import { sharedHead, sharedKeysOf } from './shared-keys.js';

/**
 * Operator escape hatch: delete every lease and queue entry of the shared key on every node
 * (lock-redis's script keeps the fencing counters and announces). `true` when any node had
 * something; rejects only when too few nodes answered to say that none had.
 */
export async function sharedForceReleaseOnQuorum(
  q: Quorum,
  family: SharedFamily,
  key: string,
): Promise<boolean> {
  const args = sharedHead(q, sharedKeysOf(q, family, key));
  return removeOnAnyNode(q, 'forceRelease', key, (node) =>
    node.scripts[COMMANDS.sharedForceRelease]!(...args),
  );
}
