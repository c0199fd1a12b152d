import type { LineRegistry } from './line-registry.js';
import type { QueueContext } from './revision-queue.js';
import type { SessionKeeper } from './session-keeper.js';
import type { Sweeper } from './sweeper.js';

/** What one backend's operations share: its driver, local lines, session and key cleanup. */
export interface BackendContext extends QueueContext {
  readonly lines: LineRegistry;
  readonly sessions: SessionKeeper;
  readonly sweeper: Sweeper;
  /** The queue prefix of a lock key under the backend's key prefix. */
  queue(key: string): string;
}

/** One acquire call, as the backend's operations pass it along. */
export interface Claim {
  readonly owner: string;
  /** The lock's TTL, validated and rounded up to whole seconds. */
  readonly ttl: number;
  /** Monotonic time the call reached the backend: a grant's `ttlMs` counts from here. */
  readonly entered: number;
}

/** A `waitAcquire` call: also when to give up, and what may abort it. */
export interface WaitingClaim extends Claim {
  /** Monotonic deadline (`Infinity`: none). */
  readonly deadline: number;
  /** Any of them aborting ends the wait with its reason. */
  readonly signals: readonly AbortSignal[];
}
