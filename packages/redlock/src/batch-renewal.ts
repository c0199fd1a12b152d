import type { ExtendResult } from '@dlock/lock-core/spi';
import { quorumError } from './errors.js';
import { onAllNodes } from './fan-out.js';
import type { Quorum } from './quorum.js';
import { driftMs, validityMs } from './validity.js';

/** What the watchdog's batch needs of an ioredis pipeline: the extend script commands and exec. */
export type ExtendPipeline = Record<string, (...args: Array<string | number>) => unknown> & {
  exec(): Promise<Array<[Error | null, unknown]> | null>;
};

/** One renewal of a batch: which key, and the TTL asked for. */
export interface BatchedRenewal {
  readonly key: string;
  readonly ttlMs: number;
}

/**
 * Many owner-checked renewals (locks or leases): one pipeline per node, all nodes at once, so a
 * batch costs about one round trip however many it renews. `enqueue` adds the `i`-th request's
 * extend script (which answers 1 when it renewed) to a node's pipeline. Each request is judged
 * like a single renewal (a majority inside the new validity: renewed, with the validity left;
 * too few holders for any majority: `false`). When some answer is unknown because nodes did not
 * answer, the whole batch rejects: the SPI has no per-request "unknown", and `false` would
 * declare a hold lost that may still be held. The core then retries each of them; definite
 * losses show up as `false` then.
 *
 * `subjects` names what is renewed in the error ("lock(s)", "lease(s)").
 */
export async function renewBatchOnQuorum(
  q: Quorum,
  requests: readonly BatchedRenewal[],
  enqueue: (pipeline: ExtendPipeline, i: number) => void,
  subjects: string,
): Promise<ExtendResult[]> {
  if (requests.length === 0) return [];
  const start = q.now();
  const outcomes = await onAllNodes(
    q.nodes,
    'extend',
    undefined,
    (node) => {
      const pipeline = node.client.pipeline() as unknown as ExtendPipeline;
      for (let i = 0; i < requests.length; i++) enqueue(pipeline, i);
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
    throw quorumError(
      'extend',
      request.key,
      `could not tell whether a majority renewed ${requests.length} ${subjects}: ${renewed} renewed, ${unknown} did not answer, ${q.size} needed`,
      outcomes,
    );
  });
}
