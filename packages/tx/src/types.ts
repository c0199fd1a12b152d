import type { LockClient } from '@dlock/lock-core';
import type { RetryOptions } from './backoff.js';
import type { TxBranchRecord, TxKind, TxLog, TxState } from './log.js';
import type { MysqlConnectionLike, MysqlPoolLike } from './pool-types.js';

/** What a TCC branch function or saga step receives. */
export interface BranchContext<I = unknown> {
  /** The global id: pass it to the participant's barrier. */
  readonly gid: string;
  /** This branch's id within the transaction: pass it to the barrier too. */
  readonly branch: string;
  readonly op: 'try' | 'confirm' | 'cancel' | 'action' | 'compensate';
  readonly input: I;
}

/**
 * A TCC participant. `confirm` and `cancel` must be idempotent and accept a cancel without a try
 * (the barrier does both); they are retried until they succeed.
 */
export interface TccBranch<I = unknown, R = unknown> {
  /** Stable name: recovery in another process finds the branch's code by it. */
  readonly name: string;
  try(ctx: BranchContext<I>): Promise<R> | R;
  confirm(ctx: BranchContext<I>): Promise<unknown> | unknown;
  cancel(ctx: BranchContext<I>): Promise<unknown> | unknown;
}

/** A saga step: `compensate` undoes `action`, and must be idempotent. */
export interface SagaStep<I = unknown> {
  /** Stable name: recovery in another process finds the step's code by it. */
  readonly name: string;
  /** The step's input (JSON), stored in the log. */
  readonly input?: I;
  action(ctx: BranchContext<I>): Promise<unknown> | unknown;
  compensate(ctx: BranchContext<I>): Promise<unknown> | unknown;
  /**
   * Attempts of `action` before the saga gives up and compensates.
   * @default the manager's `sagaActionAttempts`
   */
  readonly attempts?: number;
}

export interface XaTransaction {
  readonly gid: string;
  /**
   * Runs `fn` as one XA branch on its own connection of `resource` (a pool given in `resources`,
   * or its name): XA START, `fn`, XA END, XA PREPARE. Resolves what `fn` resolves.
   */
  branch<T>(
    resource: MysqlPoolLike | string,
    fn: (conn: MysqlConnectionLike) => Promise<T>,
  ): Promise<T>;
}

export interface TccTransaction {
  readonly gid: string;
  /** Logs the branch, then calls its `try`. Resolves what `try` resolves. */
  try<I, R>(branch: TccBranch<I, R>, input: I): Promise<R>;
}

export interface TransactionOptions {
  /**
   * Phase one must reach its decision within this many ms, else the transaction is rolled back
   * (DTM's `TimeoutToFail`). Recovery also uses it to tell a dead coordinator from a slow one.
   * @default the manager's `timeoutMs`
   */
  timeoutMs?: number;
}

/** A transaction's record as `status()` reports it. */
export interface TxStatus {
  readonly gid: string;
  readonly kind: TxKind;
  readonly state: TxState;
  readonly branches: readonly TxBranchRecord[];
  readonly deadline: number;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What one `recover()` pass did, by gid. */
export interface RecoveryReport {
  /** Decided commit, finished now (XA COMMIT, TCC confirm). */
  readonly committed: string[];
  /** Rolled back, cancelled or compensated now. */
  readonly aborted: string[];
  /** Prepared XA branches with no decision past timeout + grace: logged as aborted, rolled back. */
  readonly orphans: string[];
  /** Still unfinished (a resource down, a branch busy): retried at their `nextRetryAt`. */
  readonly pending: string[];
  /** Sagas whose compensation kept failing. */
  readonly needsAttention: string[];
}

export interface TransactionManagerOptions {
  /** The durable coordinator log: `mysqlTxLog(pool)` (its own database), or `memoryTxLog()`. */
  log: TxLog;
  /**
   * The XA resource managers by name. Recovery needs the names: a branch is logged as
   * (resource name, bqual), and `XA RECOVER` is run on each of these.
   * @default {}
   */
  resources?: Record<string, MysqlPoolLike>;
  /**
   * When the log is `mysqlTxLog(pool)` on the very pool of one of `resources`, `tm.xa()` commits
   * the first branch on that resource as a local transaction together with the decision record
   * (last-resource commit: two flushes fewer per transaction, the decision is atomic with that
   * branch). `false` runs every branch as an XA branch and writes the decision separately.
   * @default true
   */
  lastResourceCommit?: boolean;
  /**
   * `true`: `xa()` and `tcc()` resolve once every branch is committed (XA COMMIT) or confirmed.
   * `false`: they resolve as soon as the decision is durable in the log (the transaction *will*
   * commit: nothing decided is undone), and the commit phase runs on in the background, then in
   * recovery if it fails; `status(gid)` says `committing` until it is done. Until then an XA
   * branch's rows stay locked and other sessions read their old values, and a TCC participant
   * may not have confirmed yet (DTM's default, `WaitResult: false`, is the same).
   * @default true
   */
  awaitPhaseTwo?: boolean;
  /**
   * TCC branches and saga steps this process can run during recovery, by their `name`. Branches
   * and steps used in `tcc()`/`saga()` are registered on first use as well.
   * @default []
   */
  participants?: readonly (TccBranch<never> | SagaStep<never>)[];
  /**
   * Lock client electing the background sweeper: a sweep runs only while this process holds
   * `recoveryLockKey`. Without it every manager sweeps (safe, as every step is idempotent, only
   * more work).
   */
  locks?: Pick<LockClient, 'tryAcquire'>;
  /**
   * Key of the sweeper's lock.
   * @default 'dlock-tx:recovery'
   */
  recoveryLockKey?: string;
  /**
   * Interval of the background recovery loop in ms (DTM's `TransCronInterval`); `false` for
   * none (call `recover()` yourself).
   * @default 3000
   */
  recoveryIntervalMs?: number | false;
  /**
   * Default phase-one budget in ms (see `TransactionOptions.timeoutMs`).
   * @default 35000
   */
  timeoutMs?: number;
  /**
   * Extra wait in ms past a transaction's timeout before recovery rolls back a prepared XA branch
   * that has no log record, to allow for clock skew between coordinators.
   * @default 10000
   */
  graceMs?: number;
  /**
   * How long `xa()`/`tcc()` keep retrying their second phase before resolving the decision to
   * recovery with `TxPendingError`, in ms.
   * @default 10000
   */
  phaseTwoTimeoutMs?: number;
  /** Retry intervals of second phases, saga actions and recovery (exponential backoff). */
  retry?: RetryOptions;
  /**
   * Attempts of a saga step's action before the saga compensates.
   * @default 3
   */
  sagaActionAttempts?: number;
  /**
   * Attempts of a saga compensation before the saga lands in `needs-attention`.
   * @default 5
   */
  compensationAttempts?: number;
  /**
   * Prefix of every gid (and XA gtrid) this manager makes: recovery only touches branches with
   * it. Letters, digits, `_` and `-`, at most 16.
   * @default 'dlock'
   */
  gidPrefix?: string;
}

export interface TransactionManager extends AsyncDisposable {
  xa<T>(fn: (tx: XaTransaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  tcc<T>(fn: (tx: TccTransaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  saga(steps: readonly SagaStep<never>[], options?: TransactionOptions): Promise<void>;
  /** Where a transaction stands, or `null` when the log has no record (XA: never decided). */
  status(gid: string): Promise<TxStatus | null>;
  /** One recovery pass over the log and every resource's `XA RECOVER`. */
  recover(): Promise<RecoveryReport>;
  /** Stops the background loop and waits for a running sweep. New transactions are refused. */
  close(): Promise<void>;
}
