import { COMMANDS, lockKeys } from '@dlock/lock-redis/internals';
import { removeOnAnyNode } from './any-node-removal.js';
import type { Quorum } from './quorum.js';

/**
 * Operator escape hatch: delete the lock on every node whoever holds it (lock-redis's script,
 * which keeps the fencing counters). `true` when any node had it. Rejects only when too few nodes
 * answered to say that no majority held it.
 */
export async function forceReleaseOnQuorum(q: Quorum, key: string): Promise<boolean> {
  const keys = lockKeys(q.prefix, key);
  return removeOnAnyNode(q, 'forceRelease', key, (node) =>
    node.scripts[COMMANDS.forceRelease]!(
      keys.lock,
      keys.fence,
      keys.wait,
      q.fencingRetentionMs,
      keys.channel,
      '0',
    ),
  );
}
