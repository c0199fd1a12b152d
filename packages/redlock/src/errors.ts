import { LockBackendError } from '@dlock/lock-core';
import type { NodeOutcome } from './fan-out.js';

/** Why one node did not vote: the node's `host:port` and the driver's error as `cause`. */
export class RedlockNodeError extends Error {
  readonly node: string;
  constructor(node: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`${node}: ${detail}`, { cause });
    this.name = 'RedlockNodeError';
    this.node = node;
  }
}

/** The per-node failures of one fan-out, as `RedlockNodeError`s. */
export function nodeErrors(outcomes: readonly NodeOutcome<unknown>[]): RedlockNodeError[] {
  const errors: RedlockNodeError[] = [];
  for (const outcome of outcomes) {
    if (outcome.ok) continue;
    // CommandRunner wraps the driver's error in LockBackendError; report the driver's error.
    const error = LockBackendError.isInstance(outcome.error) ? outcome.error.cause : outcome.error;
    errors.push(new RedlockNodeError(outcome.node, error));
  }
  return errors;
}

/**
 * A LockBackendError whose `cause` is an AggregateError of every node's failure, so callers can
 * tell "backend down" from "busy" and see which nodes failed and why.
 */
export function quorumError(
  operation: string,
  key: string | undefined,
  summary: string,
  outcomes: readonly NodeOutcome<unknown>[],
): LockBackendError {
  const errors = nodeErrors(outcomes);
  const detail = errors.map((e) => e.message).join('; ');
  const cause = new AggregateError(errors, detail ? `${summary} (${detail})` : summary);
  return new LockBackendError('redlock', operation, cause, key);
}
