import { drive, isFn, type ManagerContext, message } from './context.js';
import { reportError, reportEvent } from './diagnostics.js';
import { TxAbortedError, TxArgumentError, TxBackendError, TxPendingError } from './errors.js';
import type { TxRecord } from './log.js';
import type { MysqlConnectionLike, MysqlPoolLike } from './pool-types.js';
import type { TransactionOptions, XaTransaction } from './types.js';
import { finishBranch, isRolledBackXid, isUnknownXid, newGid, xa } from './xa.js';

/**
 * `tm.xa()`: XA two-phase commit over the manager's resources. Each branch runs on its own
 * connection (XA START, the callback, XA END, XA PREPARE); the decision is one log INSERT; phase
 * two is retried for `phaseTwoTimeoutMs` and then left to recovery.
 *
 * Last-resource commit: when the log writes through the pool of one resource (`ctx.lastResource`),
 * the first branch on that resource is a plain local transaction instead (START TRANSACTION, the
 * callback), kept open until every other branch is prepared; then the decision record is inserted
 * on its connection and COMMIT makes the branch and the decision durable at once. Recovery needs
 * nothing new: the record is there (commit the prepared branches) or it is not (the local
 * transaction died with it; the prepared ones are orphans, rolled back). Three flushes instead of
 * five for two branches: prepare, the local commit, the other commit.
 */

interface XaBranchState {
  readonly resource: string;
  readonly pool: MysqlPoolLike;
  readonly bqual: string;
  conn: MysqlConnectionLike | null;
  /** The last-resource branch: a local transaction committed with the decision. */
  readonly local: boolean;
  /** `prepared` for the local branch: its callback ran, its transaction is open. */
  state: 'started' | 'prepared' | 'failed' | 'done';
}

async function xaPhaseTwo(
  ctx: ManagerContext,
  gid: string,
  branches: XaBranchState[],
  verb: 'COMMIT' | 'ROLLBACK',
): Promise<boolean> {
  const results = await Promise.all(
    branches.map(async (b) => {
      if (b.state === 'done') return true;
      const xid = { gtrid: gid, bqual: b.bqual };
      if (b.conn) {
        // Same session that prepared it: the fast path.
        const conn = b.conn;
        try {
          await xa(conn, verb, xid);
          b.conn = null;
          conn.release();
          b.state = 'done';
          return true;
        } catch (error) {
          b.conn = null;
          if (isUnknownXid(error) || isRolledBackXid(error)) {
            conn.release();
            b.state = 'done';
            if (isRolledBackXid(error) && verb === 'COMMIT') {
              reportEvent(() => ({ gid, action: 'commit-answered-rollback', bqual: b.bqual }));
            }
            return true;
          }
          // The session is gone or unusable: drop it, so the branch detaches, and finish it
          // from a fresh connection below.
          conn.destroy();
          reportError('xa-phase-two', error, gid);
        }
      }
      const outcome = await finishBranch(b.pool, verb, xid, ctx.prefix);
      if (outcome === 'busy') return false;
      b.state = 'done';
      return true;
    }),
  );
  return results.every(Boolean);
}

async function xaAbort(gid: string, branches: XaBranchState[]): Promise<void> {
  await Promise.all(
    branches.map(async (b) => {
      const conn = b.conn;
      if (!conn) return;
      b.conn = null;
      try {
        if (b.local) {
          await conn.query('ROLLBACK');
          conn.release();
          return;
        }
        if (b.state === 'started') {
          try {
            await xa(conn, 'END', { gtrid: gid, bqual: b.bqual });
          } catch {
            // Already ended (the failure was at PREPARE): the rollback below decides.
          }
        }
        await xa(conn, 'ROLLBACK', { gtrid: gid, bqual: b.bqual });
        conn.release();
      } catch (error) {
        // An XA branch is left prepared and detached: recovery rolls it back after timeout +
        // grace. The local branch (last-resource commit) rolls back as its session closes.
        conn.destroy();
        reportError('xa-rollback', error, gid);
      }
    }),
  );
}

/**
 * The decision on the last resource's open transaction: the record's INSERT, then COMMIT.
 * Resolves false when recovery's abort record won the gid first (the caller then rolls every
 * branch back, this one included). A failed COMMIT leaves the outcome unknown to this process,
 * like a failed decision INSERT: the error propagates and recovery decides by whether the record
 * is there.
 */
async function commitLastResource(
  ctx: ManagerContext,
  branch: XaBranchState,
  record: TxRecord,
): Promise<boolean> {
  const conn = branch.conn!;
  if (!(await ctx.log.createIn!(conn, record))) return false;
  try {
    await conn.query('COMMIT');
  } catch (error) {
    throw new TxBackendError(`COMMIT on ${branch.resource} (with the decision)`, error, record.gid);
  }
  branch.conn = null;
  branch.state = 'done';
  conn.release();
  return true;
}

/**
 * Phase two after the decision: XA COMMIT of every branch, retried for `phaseTwoTimeoutMs`, then
 * left to recovery (`TxPendingError`).
 */
async function finishXa(
  ctx: ManagerContext,
  gid: string,
  branches: XaBranchState[],
): Promise<void> {
  const failure = await drive(
    ctx,
    () => xaPhaseTwo(ctx, gid, branches, 'COMMIT'),
    Date.now() + ctx.phaseTwoTimeoutMs,
  );
  if (failure !== undefined) {
    for (const b of branches) {
      b.conn?.destroy();
      b.conn = null;
    }
    await ctx.log
      .update(gid, ['committing'], { nextRetryAt: Date.now(), lastError: message(failure) })
      .catch((e) => reportError('log-update', e, gid));
    throw new TxPendingError(gid, 'commit', failure);
  }
  ctx.recordOutcome(gid, 'committing', 'committed');
}

export async function runXa<T>(
  ctx: ManagerContext,
  fn: (tx: XaTransaction) => Promise<T>,
  o?: TransactionOptions,
): Promise<T> {
  ctx.guard();
  if (!isFn(fn)) throw new TxArgumentError('xa() needs a function');
  const { log, phaseTwoTimeoutMs } = ctx;
  const limit = ctx.budget(o);
  const started = Date.now();
  const gid = newGid(ctx.prefix, started);
  const branches: XaBranchState[] = [];
  const pending = new Set<Promise<unknown>>();
  let sealed = false;
  ctx.activeXa.add(gid);
  const tx: XaTransaction = {
    gid,
    branch(resource, body) {
      if (sealed) throw new TxArgumentError(`transaction ${gid} is past its phase one`);
      const name = typeof resource === 'string' ? resource : ctx.resourceNames.get(resource);
      const pool = name === undefined ? undefined : ctx.resources.get(name);
      if (name === undefined || !pool) {
        throw new TxArgumentError(
          "tx.branch() needs a pool (or its name) from the manager's resources: recovery must be able to find it",
        );
      }
      if (!isFn(body)) throw new TxArgumentError('tx.branch() needs a function');
      const state: XaBranchState = {
        resource: name,
        pool,
        bqual: `b${branches.length + 1}`,
        conn: null,
        local: name === ctx.lastResource && !branches.some((b) => b.local),
        state: 'started',
      };
      branches.push(state);
      const run = (async () => {
        const xid = { gtrid: gid, bqual: state.bqual };
        let conn: MysqlConnectionLike;
        try {
          conn = await pool.getConnection();
        } catch (error) {
          state.state = 'failed';
          throw new TxBackendError(`connect to ${name}`, error, gid);
        }
        try {
          if (state.local) await conn.query('START TRANSACTION');
          else await xa(conn, 'START', xid);
        } catch (error) {
          state.state = 'failed';
          conn.destroy();
          throw new TxBackendError(
            `${state.local ? 'START TRANSACTION' : 'XA START'} on ${name}`,
            error,
            gid,
          );
        }
        state.conn = conn;
        const result = await body(conn);
        if (state.local) {
          state.state = 'prepared';
          return result;
        }
        await xa(conn, 'END', xid);
        await xa(conn, 'PREPARE', xid);
        state.state = 'prepared';
        return result;
      })();
      pending.add(run);
      run.catch(() => undefined).finally(() => pending.delete(run));
      return run;
    },
  };
  try {
    let result: T;
    try {
      result = await fn(tx);
      // Branches the callback started without awaiting must settle before the decision.
      await Promise.all([...pending]);
      sealed = true;
      if (branches.some((b) => b.state !== 'prepared')) {
        throw new TxArgumentError(`a branch of ${gid} did not prepare`);
      }
      if (Date.now() - started > limit) {
        throw new Error(`phase one took longer than timeoutMs (${limit} ms)`);
      }
    } catch (error) {
      sealed = true;
      await Promise.allSettled([...pending]);
      await xaAbort(gid, branches);
      throw new TxAbortedError(gid, 'was rolled back', error);
    }
    // No branch, nothing to decide: there is nothing to commit either.
    if (branches.length === 0) return result;
    const now = Date.now();
    const record: TxRecord = {
      gid,
      kind: 'xa',
      state: 'committing',
      branches: branches.map((b) =>
        b.local
          ? { id: b.bqual, resource: b.resource, local: true }
          : { id: b.bqual, resource: b.resource },
      ),
      deadline: started + limit,
      // Recovery leaves it to this process for the phase-two budget.
      nextRetryAt: now + phaseTwoTimeoutMs,
      attempts: 0,
      lastError: null,
      createdAt: started,
      updatedAt: now,
    };
    const local = branches.find((b) => b.local);
    let decided: boolean;
    try {
      decided = local ? await commitLastResource(ctx, local, record) : await log.create(record);
    } catch (error) {
      // Unknown whether the decision was written: leave the branches prepared for recovery,
      // which decides by the log (committed if the record exists, else rolled back).
      for (const b of branches) {
        b.conn?.destroy();
        b.conn = null;
      }
      throw error;
    }
    if (!decided) {
      // Recovery aborted it first (it took too long): roll back.
      await xaAbort(gid, branches);
      throw new TxAbortedError(gid, 'was rolled back by recovery (phase one timed out)');
    }
    ctx.activeXa.delete(gid);
    const commit = finishXa(ctx, gid, branches);
    if (ctx.awaitPhaseTwo) await commit;
    else ctx.background(commit);
    return result;
  } finally {
    ctx.activeXa.delete(gid);
  }
}
