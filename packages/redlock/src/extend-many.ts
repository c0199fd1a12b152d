import type { AcquireRequest, ExtendResult } from '@dlock/lock-core/spi';
import { COMMANDS, lockKeys } from '@dlock/lock-redis/internals';
import { quorumError } from './errors.js';
import { onAllNodes } from './fan-out.js';
import type { Quorum } from './quorum.js';
import { driftMs, validityMs } from './validity.js';

/** What the watchdog's batch needs of an ioredis pipeline: the extend script command and exec. */
type ExtendPipeline = Record<string, (...args: Array<string | number>) => unknown> & {
  exec(): Promise<Array<[Error | null, unknown]> | null>;
};

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
  if (requests.length === 0) return [];
  const start = q.now();
  const outcomes = await onAllNodes(
    q.nodes,
    'extend',
    undefined,
    (node) => {
      const pipeline = node.client.pipeline() as unknown as ExtendPipeline;
      for (const { key, owner, ttlMs } of requests) {
        const keys = lockKeys(q.prefix, key);
        pipeline[COMMANDS.extend]!(
          keys.lock,
          keys.fence,
          keys.wait,
          owner,
          ttlMs,
          q.fencingRetentionMs,
        );
      }
      return pipeline.exec();
    },
    (reply) =>
      requests.map((_, i): boolean | undefined => {
        const [error, value] = (reply as Array<[Error | null, unknown]> | null)?.[i] ?? [
          new Error('missing pipeline reply'),
          0,
        ];
        return error ? undefined : Number(value) === 1;
      }),
    q.nodeTimeoutMs,
  );
  const elapsed = q.now() - start;
  return requests.map((request, i) => {
    let renewed = 0;
    let unknown = 0;
    for (const outcome of outcomes) {
      const answer = outcome.ok ? outcome.value[i] : undefined;
      if (answer === true) renewed++;
      else if (answer === undefined) unknown++;
    }
    const validity = validityMs(request.ttlMs, elapsed, driftMs(request.ttlMs, q.driftFactor));
    if (renewed >= q.size && validity >= 1) return { ttlMs: validity };
    if (renewed + unknown < q.size) return false;
    const error = quorumError(
      'extend',
      request.key,
      `could not tell whether a majority renewed ${requests.length} lock(s): ${renewed} renewed, ${unknown} did not answer, ${q.size} needed`,
      outcomes,
    );
    throw error;
  });
}
