import type { WatchHandle } from '@dlock/lock-core/spi';
import { lockKeys } from '@dlock/lock-redis/internals';
import { quorumError } from './errors.js';
import type { NodeOutcome } from './fan-out.js';
import type { Quorum } from './quorum.js';
import { ReleaseCoalescer } from './release-coalescer.js';

/**
 * Subscribes the key's release channel on every node, through each node's lock-redis
 * ReleaseSubscriber. Live once a majority is subscribed: a release that counts reached a majority
 * of nodes, and any two majorities share a node, so no counted release goes unheard. Nodes that
 * fail to subscribe are left out (the core's safety re-check at the holder's validity covers
 * them); when no majority can subscribe, the watch rejects with every node's cause.
 */
export function watchOnQuorum(
  q: Quorum,
  key: string,
  onRelease: () => void,
  windowMs: number,
): Promise<WatchHandle> {
  return watchChannelOnQuorum(q, key, lockKeys(q.prefix, key).channel, onRelease, windowMs);
}

/** As {@link watchOnQuorum}, for any release channel (the shared keys' have names of their own). */
export function watchChannelOnQuorum(
  q: Quorum,
  key: string,
  channel: string,
  onRelease: () => void,
  windowMs: number,
): Promise<WatchHandle> {
  const coalescer = new ReleaseCoalescer(windowMs, onRelease);
  const handles: WatchHandle[] = [];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    coalescer.close();
    await Promise.allSettled(handles.map((h) => h.close()));
  };
  return new Promise<WatchHandle>((resolve, reject) => {
    const outcomes: NodeOutcome<unknown>[] = [];
    let live = 0;
    let settled = false;
    for (const node of q.nodes) {
      let subscription: Promise<WatchHandle>;
      try {
        subscription = node
          .subscriber()
          .watch(channel, (message) => coalescer.heard(node.index, message));
      } catch (error) {
        subscription = Promise.reject(error);
      }
      subscription.then(
        (handle) => {
          outcomes.push({ ok: true, node: node.label, index: node.index, value: undefined });
          // Closed (or rejected) meanwhile: do not leave the late subscription behind.
          if (closed) void handle.close();
          else handles.push(handle);
          if (++live >= q.size && !settled) {
            settled = true;
            resolve({ close });
          }
        },
        (error: unknown) => {
          outcomes.push({ ok: false, node: node.label, index: node.index, error });
          const failed = outcomes.filter((o) => !o.ok).length;
          if (!settled && q.nodes.length - failed < q.size) {
            settled = true;
            void close();
            reject(
              quorumError('watch', key, 'could not subscribe on a majority of nodes', outcomes),
            );
          }
        },
      );
    }
  });
}
