import { RedisCommandTimeoutError } from '@dlock/lock-redis';
import type { RedlockNode } from './node.js';

/** What one node answered, or why it did not. */
export type NodeOutcome<T> =
  | { readonly ok: true; readonly node: string; readonly index: number; readonly value: T }
  | { readonly ok: false; readonly node: string; readonly index: number; readonly error: unknown };

/**
 * Sends one call to every node at once and waits for all of them, but no longer than
 * `timeoutMs`: the whole fan-out costs one round trip to the slowest node that answers in time,
 * and a dead or slow node costs at most the timeout, as a failed vote rather than a hang. Never
 * rejects.
 *
 * One deadline per fan-out, and the verdict is deferred by a `setImmediate`: when this process
 * itself stalled (a long GC, a busy event loop), the timer phase runs before the I/O phase, so
 * replies already sitting in the sockets are read first instead of being counted as timeouts.
 * The stall still shows in the elapsed time, and so in the validity.
 *
 * `decided`, when given, is asked after each answer whether the answers so far already settle
 * the outcome (a majority granted, a majority released): then the fan-out resolves at once, like
 * node-redlock, instead of waiting for the slowest node. On a busy machine the slowest of five
 * servers answers well after the third (measured: about half the uncontended rate of a quorum
 * when waiting for all). The calls were all written already, and each node applies its
 * connection's commands in order, so a later call to a slow node still runs after this one there.
 * The nodes yet to answer are reported as {@link NOT_AWAITED} failures (the caller treats them as
 * "may or may not have run", as it does any node that did not answer), and their late replies
 * are ignored.
 */
export function onAllNodes<T>(
  nodes: readonly RedlockNode[],
  operation: string,
  key: string | undefined,
  call: (node: RedlockNode) => Promise<unknown>,
  decode: (reply: unknown) => T,
  timeoutMs: number,
  /** Only nodes allowed to vote for a grant (see `restartQuarantineMs`); the others fail at once. */
  voting = false,
  /** Whether the answers so far settle the outcome (see above); never asked with every answer in. */
  decided?: (outcomes: PartialOutcomes<T>) => boolean,
): Promise<NodeOutcome<T>[]> {
  return new Promise((resolve) => {
    const outcomes: Array<NodeOutcome<T> | undefined> = new Array(nodes.length);
    let pending = nodes.length;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (position: number, outcome: NodeOutcome<T>) => {
      if (done || outcomes[position] !== undefined) return;
      outcomes[position] = outcome;
      if (--pending > 0 && !(outcome.ok && decided?.(outcomes))) return;
      done = true;
      clearTimeout(timer);
      if (pending > 0) {
        nodes.forEach((node, i) => {
          outcomes[i] ??= { node: node.label, index: node.index, ok: false, error: NOT_AWAITED };
        });
      }
      resolve(outcomes as NodeOutcome<T>[]);
    };
    nodes.forEach((node, position) => {
      const base = { node: node.label, index: node.index };
      const refusal = voting ? node.refusal() : undefined;
      if (refusal !== undefined) {
        settle(position, { ...base, ok: false, error: refusal });
        return;
      }
      // The runner only adds something while the connection is not ready (it fails the call
      // with the connection's error); a ready node is called directly, saving a promise per node.
      const sent =
        node.client.status === 'ready'
          ? callSafely(call, node)
          : node.runner.run(operation, key, () => call(node));
      sent.then(
        (reply) => {
          let value: T;
          try {
            value = decode(reply);
          } catch (error) {
            settle(position, { ...base, ok: false, error });
            return;
          }
          settle(position, { ...base, ok: true, value });
        },
        (error: unknown) => settle(position, { ...base, ok: false, error }),
      );
    });
    if (pending === 0 || done) {
      resolve([]);
      return;
    }
    timer = setTimeout(
      () =>
        setImmediate(() => {
          nodes.forEach((node, position) => {
            const error = new RedisCommandTimeoutError(timeoutMs, node.client.status);
            settle(position, { node: node.label, index: node.index, ok: false, error });
          });
        }),
      timeoutMs,
    );
  });
}

function callSafely(
  call: (node: RedlockNode) => Promise<unknown>,
  node: RedlockNode,
): Promise<unknown> {
  try {
    return call(node);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The answers of the nodes that did answer (so far, for a {@link PartialOutcomes}). */
export function answers<T>(
  outcomes: PartialOutcomes<T>,
): Array<{ readonly index: number; readonly value: T }> {
  const result: Array<{ index: number; value: T }> = [];
  for (const outcome of outcomes) if (outcome?.ok) result.push(outcome);
  return result;
}

/** A fan-out's outcomes while it runs: `undefined` where a node has not answered yet. */
export type PartialOutcomes<T> = ReadonlyArray<NodeOutcome<T> | undefined>;

/**
 * The failure recorded for a node whose answer was not awaited because the others already
 * decided (see `onAllNodes`). One shared instance: it is the common case of every fan-out that
 * decides early, where an Error with a stack apiece would cost more than the rest of the call.
 */
export const NOT_AWAITED: Error = Object.freeze(
  new Error('not awaited: a majority of the other nodes had already decided'),
);
