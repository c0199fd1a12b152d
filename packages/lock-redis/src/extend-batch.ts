import type { RedisPipelineLike } from './client-types.js';
import type { CommandRunner } from './command-runner.js';

type Pipeline = RedisPipelineLike & Record<string, (...args: unknown[]) => unknown>;

/**
 * `extendMany` for the mutex and for shared keys: one pipeline of the renewal script (`command`,
 * with each request's arguments) on a standalone server; on a Cluster one call per request, since
 * a pipeline must stay within one slot (sent together, ioredis still writes them back to back
 * per node, so the batch costs about one round trip per node). One failed command fails the
 * whole batch: answering "not held" would wrongly declare that lease lost.
 */
export function extendBatch<R>(
  client: { readonly isCluster?: boolean; pipeline(): RedisPipelineLike },
  runner: CommandRunner,
  command: string,
  requests: readonly R[],
  argsOf: (request: R) => readonly unknown[],
  one: (request: R) => Promise<boolean>,
): Promise<boolean[]> {
  if (requests.length === 0) return Promise.resolve([]);
  if (client.isCluster) return Promise.all(requests.map(one));
  return runner.run('extend', undefined, async () => {
    const pipeline = client.pipeline() as Pipeline;
    for (const request of requests) pipeline[command]!(...argsOf(request));
    const replies = (await pipeline.exec()) ?? [];
    return requests.map((_, i) => {
      const [error, reply] = replies[i] ?? [new Error('missing pipeline reply'), 0];
      if (error) throw error;
      return Number(reply) === 1;
    });
  });
}
