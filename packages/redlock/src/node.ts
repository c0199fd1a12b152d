import {
  CommandRunner,
  defineScripts,
  ReleaseSubscriber,
  type ScriptCommands,
} from '@dlock/lock-redis/internals';
import type { RedlockClientLike } from './client-types.js';
import { RestartGuard } from './restart-guard.js';

/** One Redis master of the quorum, with lock-redis's scripts registered on its client. */
export interface RedlockNode {
  /** Position in `clients`. */
  readonly index: number;
  /** `host:port`, for error messages. */
  readonly label: string;
  readonly client: RedlockClientLike;
  readonly scripts: ScriptCommands;
  /**
   * Fails a call fast with the connection's error while the node is unreachable. The deadline
   * (`nodeTimeoutMs`) is the fan-out's, one timer for all nodes (see `fan-out.ts`).
   */
  readonly runner: CommandRunner;
  /** Release channel subscriptions on this node, opened on the first watch. */
  subscriber(): ReleaseSubscriber;
  /** Why the node may not vote for a grant now (`restartQuarantineMs`), or `undefined`. */
  refusal(): Error | undefined;
  /** Closes the subscriber connection if one was opened. */
  close(): void;
}

export function createNode(
  client: RedlockClientLike,
  index: number,
  subscribeTimeoutMs: number,
  restartQuarantineMs: number,
  now: () => number,
): RedlockNode {
  const { host, port } = client.options ?? {};
  let subscriber: ReleaseSubscriber | undefined;
  const guard =
    restartQuarantineMs > 0 ? new RestartGuard(client, restartQuarantineMs, now) : undefined;
  return {
    index,
    label: `${host ?? '?'}:${port ?? '?'}`,
    client,
    scripts: defineScripts(client),
    runner: new CommandRunner(client, Number.POSITIVE_INFINITY),
    subscriber() {
      // Classic pub/sub: each node is a standalone master, and the release script PUBLISHes.
      subscriber ??= new ReleaseSubscriber(client, subscribeTimeoutMs, 'classic');
      return subscriber;
    },
    refusal: () => guard?.refusal(),
    close() {
      subscriber?.close();
      guard?.close();
    },
  };
}
