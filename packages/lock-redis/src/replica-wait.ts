import { LockBackendError } from '@dlock/lock-core';
import { reported } from '@dlock/lock-core/spi';
import type { RedisClientLike } from './client-types.js';
import type { CommandRunner } from './command-runner.js';
import type { ResolvedOptions } from './options.js';

/** What {@link awaitReplicas} needs of the backend. */
export interface ReplicaWaitContext {
  readonly client: RedisClientLike;
  readonly runner: CommandRunner;
  readonly options: Pick<ResolvedOptions, 'waitForReplicas' | 'waitForReplicasTimeoutMs'>;
}

/**
 * `waitForReplicas`: WAIT on the connection that made a fresh grant (the keyed PTTL of `name`,
 * one of the grant's Redis names, routes a Cluster pipeline there). Too few copies: a failover
 * now could hand the grant to a second owner, so `undo` gives it back (best effort: if Redis is
 * unreachable the grant simply expires after its TTL) and the call rejects.
 */
export async function awaitReplicas(
  context: ReplicaWaitContext,
  operation: string,
  key: string,
  name: string,
  undo: () => Promise<unknown>,
): Promise<void> {
  const { client, runner } = context;
  const { waitForReplicas: wanted, waitForReplicasTimeoutMs: timeout } = context.options;
  let cause: unknown;
  try {
    const replies = await runner.run(operation, key, () =>
      client.pipeline().pttl(name).wait(wanted, timeout).exec(),
    );
    const [error, reply] = replies?.[1] ?? [new Error('WAIT: no reply'), 0];
    if (!error && Number(reply) >= wanted) return;
    cause =
      error ??
      new Error(
        `WAIT: ${Number(reply)} of ${wanted} replicas acknowledged the grant within ${timeout} ms`,
      );
  } catch (error) {
    cause = error;
  }
  await undo().catch(reported(`redis ${operation}: undo an under-replicated grant`, key));
  throw LockBackendError.isInstance(cause)
    ? cause
    : new LockBackendError('redis', operation, cause, key);
}
