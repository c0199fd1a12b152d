import { backoffMs, type RetryOptions, sleep } from './backoff.js';
import { TxArgumentError } from './errors.js';
import type { TxLog, TxState } from './log.js';
import type { MysqlPoolLike } from './pool-types.js';
import type { SagaStep, TccBranch, TransactionOptions } from './types.js';

/** A TCC branch or a saga step, as the manager's registry keeps them. */
export type Participant = TccBranch<never> | SagaStep<never>;

/**
 * What the modes (XA, TCC, saga) and recovery share inside one transaction manager: the
 * validated options, the log, the registries and the helpers that drive second phases. Built once
 * by `createTransactionManager`; every mode is a set of functions over it.
 */
export interface ManagerContext {
  readonly log: TxLog;
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly graceMs: number;
  readonly phaseTwoTimeoutMs: number;
  readonly actionAttempts: number;
  readonly compensationAttempts: number;
  readonly retry: RetryOptions;
  /** XA resource managers by name, and the names by pool. */
  readonly resources: ReadonlyMap<string, MysqlPoolLike>;
  readonly resourceNames: ReadonlyMap<MysqlPoolLike, string>;
  /**
   * The resource whose pool the log writes through (with `createIn`): its branch is committed
   * as a local transaction with the decision (last-resource commit). `undefined`: none.
   */
  readonly lastResource: string | undefined;
  /** XA gids of this process in phase one (XA logs nothing before its decision). */
  readonly activeXa: Set<string>;
  /**
   * Whether `xa()`/`tcc()` resolve only after their commit phase (XA COMMIT, confirm) is done
   * (`true`), or as soon as the decision is durable, the commit phase running on in the
   * background (see the `awaitPhaseTwo` option).
   */
  readonly awaitPhaseTwo: boolean;
  /**
   * Keeps a background commit phase: `close()` waits for it; its failure (`TxPendingError`, the
   * transaction left to recovery) goes to the `dlock:error` channel.
   */
  background(task: Promise<void>): void;
  /** Aborted by `close()`: ends backoff waits. */
  readonly signal: AbortSignal;
  /** Throws `TxClosedError` once the manager is closed. */
  guard(): void;
  /** The phase-one budget of one call. */
  budget(options?: TransactionOptions): number;
  register(p: Participant, kind: 'TCC branch' | 'saga step'): void;
  participant(name: string | undefined): Participant | undefined;
  /** Queues the final state write of a finished second phase (see outcome-writer.ts). */
  recordOutcome(gid: string, from: TxState, to: TxState): void;
}

export function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TxArgumentError(`${name} must be a positive finite number, got ${String(value)}`);
  }
  return value;
}

export function isFn(value: unknown): boolean {
  return typeof value === 'function';
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Retries `op` with backoff until it resolves true or `untilMs` passes; resolves `undefined` on
 * success, else the last failure.
 */
export async function drive(
  ctx: Pick<ManagerContext, 'retry' | 'signal'>,
  op: () => Promise<boolean>,
  untilMs: number,
): Promise<unknown> {
  let lastError: unknown = new Error('second phase unfinished');
  for (let attempt = 0; ; attempt++) {
    try {
      if (await op()) return undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= untilMs || ctx.signal.aborted) return lastError;
    await sleep(
      Math.min(backoffMs(attempt, ctx.retry), Math.max(0, untilMs - Date.now())),
      ctx.signal,
    );
  }
}
