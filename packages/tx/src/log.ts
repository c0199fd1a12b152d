import type { MysqlConnectionLike, MysqlPoolLike } from './pool-types.js';

/**
 * The coordinator log: one record per global transaction, the durable source of truth that
 * recovery works from. Every state change is a compare-and-set on the record's state, so a
 * coordinator and a recovery sweep racing on one transaction cannot both win: the primary key
 * (for XA's decision) or the expected state (for TCC and sagas) arbitrates.
 */

/** Which protocol a transaction runs. */
export type TxKind = 'xa' | 'tcc' | 'saga';

/**
 * Where a transaction stands.
 * - `active`: phase one is running (XA is never logged in this state: a missing record means
 *   "not decided", presumed abort). TCC tries, saga actions.
 * - `committing`: decided to commit; XA COMMIT / TCC confirm is being driven to completion.
 * - `aborting`: decided to roll back; XA ROLLBACK / TCC cancel / saga compensation is running.
 * - `committed`, `aborted`: finished.
 * - `needs-attention`: a saga compensation kept failing; `lastError` says why. Terminal until an
 *   operator acts.
 */
export type TxState =
  | 'active'
  | 'committing'
  | 'aborting'
  | 'committed'
  | 'aborted'
  | 'needs-attention';

export const OPEN_STATES: readonly TxState[] = ['active', 'committing', 'aborting'];

/** One branch (XA), tried branch (TCC) or step (saga). */
export interface TxBranchRecord {
  /** Branch id: the XA bqual, or the TCC/saga branch id passed to the barrier. */
  readonly id: string;
  /** XA: the resource manager's name in the manager's `resources`. */
  readonly resource?: string;
  /** TCC branch or saga step name, used to find its code during recovery. */
  readonly name?: string;
  /** The input the branch was called with (JSON). */
  readonly input?: unknown;
  /** Saga: the action was started (its outcome is unknown until `done`). */
  readonly started?: boolean;
  /** Saga: the action completed. */
  readonly done?: boolean;
  /**
   * XA: the branch was a local transaction committed with the decision record (last-resource
   * commit); recovery has nothing to do for it.
   */
  readonly local?: boolean;
}

export interface TxRecord {
  readonly gid: string;
  readonly kind: TxKind;
  readonly state: TxState;
  readonly branches: readonly TxBranchRecord[];
  /** Epoch ms after which an `active` transaction is presumed dead and aborted. */
  readonly deadline: number;
  /** Epoch ms before which recovery leaves the record alone. */
  readonly nextRetryAt: number;
  /** Second-phase attempts made by recovery so far. */
  readonly attempts: number;
  /** The last failure, for `status()`. */
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type TxRecordPatch = Partial<
  Pick<TxRecord, 'state' | 'branches' | 'nextRetryAt' | 'attempts' | 'lastError'>
>;

/** Storage for coordinator records: `mysqlTxLog(pool)` or `memoryTxLog()`. */
export interface TxLog {
  /** Inserts a record; `false` when the gid already has one (nothing is changed then). */
  create(record: TxRecord): Promise<boolean>;
  get(gid: string): Promise<TxRecord | null>;
  /** Applies `patch` only if the record's state is one of `from`; resolves whether it did. */
  update(gid: string, from: readonly TxState[], patch: TxRecordPatch): Promise<boolean>;
  /**
   * Optional: moves every record of `gids` whose state is `from` to `to` in one write (the
   * manager batches final-state writes through it).
   */
  finishMany?(gids: readonly string[], from: TxState, to: TxState): Promise<void>;
  /**
   * Optional: the pool the log writes through. When it is also one of the manager's XA
   * resources, `tm.xa()` uses the last-resource commit (`createIn` on that branch's connection).
   */
  readonly pool?: MysqlPoolLike;
  /**
   * Optional: `create` on `conn`, inside the transaction open there (it commits or rolls back
   * with that transaction). Needed with `pool` for the last-resource commit.
   */
  createIn?(conn: MysqlConnectionLike, record: TxRecord): Promise<boolean>;
  /** Open records whose `nextRetryAt` has passed, oldest first. */
  due(now: number, limit: number): Promise<TxRecord[]>;
}
