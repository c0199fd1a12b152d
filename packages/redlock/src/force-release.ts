import { COMMANDS, lockKeys } from '@dlock/lock-redis/internals';
import { quorumError } from './errors.js';
import { answers, onAllNodes } from './fan-out.js';
import type { Quorum } from './quorum.js';

/**
 * Operator escape hatch: delete the lock on every node whoever holds it (lock-redis's script,
 * which keeps the fencing counters). `true` when any node had it. Rejects only when too few nodes
 * answered to say that no majority held it.
 */
export async function forceReleaseOnQuorum(q: Quorum, key: string): Promise<boolean> {
  const keys = lockKeys(q.prefix, key);
  const outcomes = await onAllNodes(
    q.nodes,
    'forceRelease',
    key,
    (node) =>
      node.scripts[COMMANDS.forceRelease]!(
        keys.lock,
        keys.fence,
        keys.wait,
        q.fencingRetentionMs,
        keys.channel,
        '0',
      ),
    (reply) => Number(reply) === 1,
    q.nodeTimeoutMs,
  );
  const deleted = answers(outcomes).filter((a) => a.value).length;
  if (deleted > 0) return true;
  const answered = answers(outcomes).length;
  if (answered >= q.size) return false;
  throw quorumError(
    'forceRelease',
    key,
    `quorum unreachable: ${answered} of ${q.nodes.length} nodes answered, ${q.size} needed`,
    outcomes,
  );
}
