import type { RedlockNode } from './node.js';

/** What every quorum operation needs: the nodes, the majority and the timing rules. */
export interface Quorum {
  readonly nodes: readonly RedlockNode[];
  /** floor(n / 2) + 1: any two majorities share at least one node. */
  readonly size: number;
  readonly prefix: string;
  readonly driftFactor: number;
  /** Deadline of every fan-out; also the bound of the random retry delay after a split vote. */
  readonly nodeTimeoutMs: number;
  /** Fencing-counter retention for lock-redis's scripts, in ms; 0 keeps counters forever. */
  readonly fencingRetentionMs: number;
  /** Monotonic milliseconds: elapsed time must not jump with the wall clock. */
  now(): number;
}
