import { backoffMs, sleep } from './backoff.js';
import { reportError, reportEvent } from './diagnostics.js';
import {
  TxAbortedError,
  TxArgumentError,
  TxBackendError,
  TxClosedError,
  TxPendingError,
} from './errors.js';
import type { TxBranchRecord, TxRecord, TxState } from './log.js';
import type { MysqlConnectionLike, MysqlPoolLike } from './pool-types.js';
import type {
  BranchContext,
  RecoveryReport,
  SagaStep,
  TccBranch,
  TccTransaction,
  TransactionManager,
  TransactionManagerOptions,
  TransactionOptions,
  TxStatus,
  XaTransaction,
} from './types.js';
import {
  finishBranch,
  gidTime,
  isRolledBackXid,
  isUnknownXid,
  newGid,
  recoverXids,
  xa,
} from './xa.js';

type Participant = TccBranch<never> | SagaStep<never>;

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TxArgumentError(`${name} must be a positive finite number, got ${String(value)}`);
  }
  return value;
}

function isFn(value: unknown): boolean {
  return typeof value === 'function';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface XaBranchState {
  readonly resource: string;
  readonly pool: MysqlPoolLike;
  readonly bqual: string;
  conn: MysqlConnectionLike | null;
  state: 'started' | 'prepared' | 'failed' | 'done';
}

/**
 * The embedded transaction manager: XA two-phase commit, TCC and sagas over one durable log.
 * See docs/transactions.md for the protocols and the recovery rules.
 */
export function createTransactionManager(options: TransactionManagerOptions): TransactionManager {
  if (typeof options !== 'object' || options === null) {
    throw new TxArgumentError('createTransactionManager needs an options object');
  }
  const log = options.log;
  if (!log || !isFn(log.create) || !isFn(log.get) || !isFn(log.update) || !isFn(log.due)) {
    throw new TxArgumentError('log must be a TxLog (mysqlTxLog(pool) or memoryTxLog())');
  }
  const prefix = options.gidPrefix ?? 'dlock';
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_-]{1,16}$/.test(prefix)) {
    throw new TxArgumentError(`gidPrefix must be 1-16 of [A-Za-z0-9_-], got ${String(prefix)}`);
  }
  const timeoutMs = positive('timeoutMs', options.timeoutMs, 35_000);
  const graceMs = options.graceMs === 0 ? 0 : positive('graceMs', options.graceMs, 10_000);
  const phaseTwoTimeoutMs = positive('phaseTwoTimeoutMs', options.phaseTwoTimeoutMs, 10_000);
  const actionAttempts = positive('sagaActionAttempts', options.sagaActionAttempts, 3);
  const compensationAttempts = positive('compensationAttempts', options.compensationAttempts, 5);
  const interval =
    options.recoveryIntervalMs === false
      ? false
      : positive('recoveryIntervalMs', options.recoveryIntervalMs, 3000);
  const retry = options.retry ?? {};
  const lockKey = options.recoveryLockKey ?? 'dlock-tx:recovery';
  const resources = new Map<string, MysqlPoolLike>();
  const resourceNames = new Map<MysqlPoolLike, string>();
  for (const [name, pool] of Object.entries(options.resources ?? {})) {
    if (!pool || !isFn(pool.getConnection)) {
      throw new TxArgumentError(`resources.${name} must be a mysql2/promise pool`);
    }
    resources.set(name, pool);
    resourceNames.set(pool, name);
  }
  const participants = new Map<string, Participant>();
  const register = (p: Participant, kind: 'TCC branch' | 'saga step'): void => {
    if (typeof p?.name !== 'string' || p.name.length === 0) {
      throw new TxArgumentError(`every ${kind} needs a non-empty string name`);
    }
    const fns = kind === 'TCC branch' ? ['try', 'confirm', 'cancel'] : ['action', 'compensate'];
    for (const f of fns) {
      if (!isFn((p as unknown as Record<string, unknown>)[f])) {
        throw new TxArgumentError(`${kind} "${p.name}" needs a ${f} function`);
      }
    }
    const known = participants.get(p.name);
    if (known && known !== p) {
      throw new TxArgumentError(`two different participants are named "${p.name}"`);
    }
    participants.set(p.name, p);
  };
  for (const p of options.participants ?? []) {
    register(p, 'try' in p ? 'TCC branch' : 'saga step');
  }

  let closed = false;
  /** XA gids of this process in phase one (XA logs nothing before its decision). */
  const activeXa = new Set<string>();
  const stop = new AbortController();

  const budget = (o?: TransactionOptions): number => positive('timeoutMs', o?.timeoutMs, timeoutMs);

  const guard = (): void => {
    if (closed) throw new TxClosedError();
  };

  /** Retries `op` with backoff until it resolves true or `untilMs` passes. */
  async function drive(op: () => Promise<boolean>, untilMs: number): Promise<unknown> {
    let lastError: unknown = new Error('second phase unfinished');
    for (let attempt = 0; ; attempt++) {
      try {
        if (await op()) return undefined;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() >= untilMs || stop.signal.aborted) return lastError;
      await sleep(
        Math.min(backoffMs(attempt, retry), Math.max(0, untilMs - Date.now())),
        stop.signal,
      );
    }
  }

  /**
   * The final state write after a finished second phase runs in the background: the outcome is
   * already fixed by the decision, and if the write is lost recovery redoes the (idempotent)
   * second phase and writes it. Outcomes that arrive while a write runs go out together in the
   * next one (one statement for many transactions when the log has `finishMany`), like a group
   * commit. `status()` and `close()` wait for them.
   */
  const outcomeWrites = new Map<string, Promise<void>>();
  let queued: { gid: string; from: TxState; to: TxState; done: () => void }[] = [];
  let flushing: Promise<void> | null = null;
  async function flushOutcomes(): Promise<void> {
    while (queued.length > 0) {
      const batch = queued;
      queued = [];
      const groups = new Map<string, typeof batch>();
      for (const item of batch) {
        const key = `${item.from}>${item.to}`;
        groups.set(key, [...(groups.get(key) ?? []), item]);
      }
      for (const items of groups.values()) {
        const { from, to } = items[0]!;
        const gids = items.map((x) => x.gid);
        try {
          if (log.finishMany && gids.length > 1) await log.finishMany(gids, from, to);
          else for (const gid of gids) await log.update(gid, [from], { state: to });
        } catch (error) {
          reportError('log-update', error, gids.join(','));
        }
        for (const item of items) item.done();
      }
    }
  }
  function recordOutcome(gid: string, from: TxState, to: TxState): void {
    const written = new Promise<void>((resolve) => {
      queued.push({ gid, from, to, done: resolve });
    }).finally(() => outcomeWrites.delete(gid));
    outcomeWrites.set(gid, written);
    flushing ??= flushOutcomes().finally(() => {
      flushing = null;
    });
  }

  // ---------------------------------------------------------------- XA

  async function xaPhaseTwo(
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
        const outcome = await finishBranch(b.pool, verb, xid, prefix);
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
          // Left prepared and detached: recovery rolls it back after timeout + grace.
          conn.destroy();
          reportError('xa-rollback', error, gid);
        }
      }),
    );
  }

  async function runXa<T>(
    fn: (tx: XaTransaction) => Promise<T>,
    o?: TransactionOptions,
  ): Promise<T> {
    guard();
    if (!isFn(fn)) throw new TxArgumentError('xa() needs a function');
    const limit = budget(o);
    const started = Date.now();
    const gid = newGid(prefix, started);
    const branches: XaBranchState[] = [];
    const pending = new Set<Promise<unknown>>();
    let sealed = false;
    activeXa.add(gid);
    const tx: XaTransaction = {
      gid,
      branch(resource, body) {
        if (sealed) throw new TxArgumentError(`transaction ${gid} is past its phase one`);
        const name = typeof resource === 'string' ? resource : resourceNames.get(resource);
        const pool = name === undefined ? undefined : resources.get(name);
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
            await xa(conn, 'START', xid);
          } catch (error) {
            state.state = 'failed';
            conn.destroy();
            throw new TxBackendError(`XA START on ${name}`, error, gid);
          }
          state.conn = conn;
          const result = await body(conn);
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
      let decided: boolean;
      try {
        decided = await log.create({
          gid,
          kind: 'xa',
          state: 'committing',
          branches: branches.map((b) => ({ id: b.bqual, resource: b.resource })),
          deadline: started + limit,
          // Recovery leaves it to this process for the phase-two budget.
          nextRetryAt: now + phaseTwoTimeoutMs,
          attempts: 0,
          lastError: null,
          createdAt: started,
          updatedAt: now,
        });
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
      activeXa.delete(gid);
      const failure = await drive(
        () => xaPhaseTwo(gid, branches, 'COMMIT'),
        Date.now() + phaseTwoTimeoutMs,
      );
      if (failure !== undefined) {
        for (const b of branches) {
          b.conn?.destroy();
          b.conn = null;
        }
        await log
          .update(gid, ['committing'], { nextRetryAt: Date.now(), lastError: message(failure) })
          .catch((e) => reportError('log-update', e, gid));
        throw new TxPendingError(gid, 'commit', failure);
      }
      recordOutcome(gid, 'committing', 'committed');
      return result;
    } finally {
      activeXa.delete(gid);
    }
  }

  // ---------------------------------------------------------------- TCC

  function participant(name: string | undefined): Participant | undefined {
    return name === undefined ? undefined : participants.get(name);
  }

  async function tccSecondPhase(
    gid: string,
    branches: readonly TxBranchRecord[],
    op: 'confirm' | 'cancel',
  ): Promise<void> {
    await Promise.all(
      branches.map(async (b) => {
        const p = participant(b.name) as TccBranch<unknown> | undefined;
        if (!p || !('confirm' in p)) {
          throw new Error(`TCC branch "${b.name}" is not registered in this process`);
        }
        const ctx: BranchContext = { gid, branch: b.id, op, input: b.input };
        await (op === 'confirm' ? p.confirm(ctx) : p.cancel(ctx));
      }),
    );
  }

  async function runTcc<T>(
    fn: (tx: TccTransaction) => Promise<T>,
    o?: TransactionOptions,
  ): Promise<T> {
    guard();
    if (!isFn(fn)) throw new TxArgumentError('tcc() needs a function');
    const limit = budget(o);
    const started = Date.now();
    const gid = newGid(prefix, started);
    const branches: TxBranchRecord[] = [];
    const pending = new Set<Promise<unknown>>();
    let registration: Promise<void> = Promise.resolve();
    let loggedCount = 0;
    let created = false;
    let aborted = false;
    let sealed = false;
    let failedTry: { error: unknown } | undefined;
    const tx: TccTransaction = {
      gid,
      try<I, R>(branch: TccBranch<I, R>, input: I): Promise<R> {
        if (sealed) throw new TxArgumentError(`transaction ${gid} is past its try phase`);
        register(branch as unknown as Participant, 'TCC branch');
        const record: TxBranchRecord = {
          id: String(branches.length + 1).padStart(2, '0'),
          name: branch.name,
          input,
        };
        branches.push(record);
        const position = branches.length;
        // Logged before the try: a crash after it leaves something recovery can cancel. Writes
        // are serialised, and one write covers every branch added while the previous ran.
        const logged = registration.then(async () => {
          if (aborted) throw new Error('the transaction was aborted by recovery (it timed out)');
          if (loggedCount >= position) return;
          const snapshot = [...branches];
          const ok = created
            ? await log.update(gid, ['active'], { branches: snapshot })
            : await log.create({
                gid,
                kind: 'tcc',
                state: 'active',
                branches: snapshot,
                deadline: started + limit,
                nextRetryAt: started + limit,
                attempts: 0,
                lastError: null,
                createdAt: started,
                updatedAt: Date.now(),
              });
          if (!ok) {
            aborted = true;
            throw new Error('the transaction was aborted by recovery (it timed out)');
          }
          created = true;
          loggedCount = snapshot.length;
        });
        registration = logged.catch(() => undefined);
        const run = logged.then(() => branch.try({ gid, branch: record.id, op: 'try', input }));
        pending.add(run);
        run
          .catch((error) => {
            // A failed try cancels the transaction even if the callback caught the error.
            failedTry ??= { error };
          })
          .finally(() => pending.delete(run));
        return run;
      },
    };
    let result: T;
    try {
      result = await fn(tx);
      // Tries the callback started without awaiting must settle before the decision.
      await Promise.all([...pending]);
      sealed = true;
      if (failedTry) throw failedTry.error;
      if (Date.now() - started > limit) {
        throw new Error(`try phase took longer than timeoutMs (${limit} ms)`);
      }
    } catch (error) {
      sealed = true;
      await Promise.allSettled([...pending]);
      await registration;
      if (!created) throw new TxAbortedError(gid, 'failed before any try', error);
      const ours = await log.update(gid, ['active'], {
        state: 'aborting',
        nextRetryAt: Date.now() + phaseTwoTimeoutMs,
      });
      if (ours) await finishTcc(gid, branches, 'cancel');
      throw new TxAbortedError(gid, 'was cancelled', error);
    }
    if (!created) return result;
    const decided = await log.update(gid, ['active'], {
      state: 'committing',
      nextRetryAt: Date.now() + phaseTwoTimeoutMs,
    });
    if (!decided) throw new TxAbortedError(gid, 'was cancelled by recovery (try phase timed out)');
    await finishTcc(gid, branches, 'confirm');
    return result;
  }

  /** Drives confirm or cancel of every branch in the log record for the phase-two budget. */
  async function finishTcc(
    gid: string,
    branches: readonly TxBranchRecord[],
    op: 'confirm' | 'cancel',
  ): Promise<void> {
    const failure = await drive(async () => {
      await tccSecondPhase(gid, branches, op);
      return true;
    }, Date.now() + phaseTwoTimeoutMs);
    const from = op === 'confirm' ? 'committing' : 'aborting';
    if (failure !== undefined) {
      await log
        .update(gid, [from], { nextRetryAt: Date.now(), lastError: message(failure) })
        .catch((e) => reportError('log-update', e, gid));
      throw new TxPendingError(gid, op === 'confirm' ? 'commit' : 'rollback', failure);
    }
    recordOutcome(gid, from, op === 'confirm' ? 'committed' : 'aborted');
  }

  // ---------------------------------------------------------------- saga

  async function compensateSaga(
    record: TxRecord,
    attemptsSoFar: number,
  ): Promise<'aborted' | 'needs-attention' | 'pending'> {
    const branches = [...record.branches];
    for (let i = branches.length - 1; i >= 0; i--) {
      const b = branches[i]!;
      if (!b.started) continue;
      const step = participant(b.name) as SagaStep<unknown> | undefined;
      if (!step || !('compensate' in step)) {
        await log.update(record.gid, ['aborting'], {
          nextRetryAt: Date.now() + backoffMs(attemptsSoFar, retry),
          lastError: `saga step "${b.name}" is not registered in this process`,
        });
        return 'pending';
      }
      let lastError: unknown;
      let ok = false;
      for (let attempt = 0; attempt < compensationAttempts; attempt++) {
        try {
          await step.compensate({
            gid: record.gid,
            branch: b.id,
            op: 'compensate',
            input: b.input,
          });
          ok = true;
          break;
        } catch (error) {
          lastError = error;
          if (attempt + 1 < compensationAttempts)
            await sleep(backoffMs(attempt, retry), stop.signal);
        }
      }
      if (!ok) {
        await log.update(record.gid, ['aborting'], {
          state: 'needs-attention',
          branches,
          attempts: attemptsSoFar + compensationAttempts,
          lastError: `compensation of step "${b.name}" failed ${compensationAttempts} times: ${message(lastError)}`,
        });
        return 'needs-attention';
      }
      branches[i] = { ...b, started: false, done: false };
      // Progress is saved so that a crash does not compensate this step again.
      await log.update(record.gid, ['aborting'], { branches });
    }
    await log.update(record.gid, ['aborting'], { state: 'aborted' });
    return 'aborted';
  }

  async function runSaga(steps: readonly SagaStep<never>[], o?: TransactionOptions): Promise<void> {
    guard();
    if (!Array.isArray(steps) || steps.length === 0) {
      throw new TxArgumentError('saga() needs a non-empty array of steps');
    }
    for (const s of steps) register(s as Participant, 'saga step');
    const limit = budget(o);
    const started = Date.now();
    const gid = newGid(prefix, started);
    let branches: TxBranchRecord[] = steps.map((s, i) => ({
      id: String(i + 1).padStart(2, '0'),
      name: s.name,
      input: s.input,
      started: i === 0,
      done: false,
    }));
    await log.create({
      gid,
      kind: 'saga',
      state: 'active',
      branches,
      deadline: started + limit,
      nextRetryAt: started + limit,
      attempts: 0,
      lastError: null,
      createdAt: started,
      updatedAt: started,
    });
    let failure: unknown;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i] as SagaStep<unknown>;
      const attempts = positive('step attempts', step.attempts, actionAttempts);
      let ok = false;
      for (let attempt = 0; attempt < attempts; attempt++) {
        try {
          await step.action({ gid, branch: branches[i]!.id, op: 'action', input: step.input });
          ok = true;
          break;
        } catch (error) {
          failure = error;
          if (attempt + 1 < attempts) await sleep(backoffMs(attempt, retry), stop.signal);
        }
      }
      if (!ok) {
        // A step whose action threw is taken as not applied: it is not compensated.
        branches = branches.map((b, j) => (j === i ? { ...b, started: false } : b));
        break;
      }
      branches = branches.map((b, j) =>
        j === i ? { ...b, done: true } : j === i + 1 ? { ...b, started: true } : b,
      );
      const last = i === steps.length - 1;
      const saved = await log.update(
        gid,
        ['active'],
        last ? { branches, state: 'committed' } : { branches },
      );
      if (!saved) {
        failure = new Error('the saga was aborted by recovery (it timed out)');
        const rec = await log.get(gid);
        if (rec?.state === 'aborting') await compensateSaga(rec, 0);
        throw new TxAbortedError(gid, 'was compensated', failure);
      }
      if (last) return;
    }
    const ours = await log.update(gid, ['active'], {
      state: 'aborting',
      branches,
      lastError: message(failure),
    });
    const record = ours ? await log.get(gid) : null;
    const outcome = record ? await compensateSaga(record, 0) : 'pending';
    const rec = outcome === 'needs-attention' ? await log.get(gid) : null;
    throw new TxAbortedError(
      gid,
      outcome === 'needs-attention' ? `needs attention: ${rec?.lastError}` : 'was compensated',
      failure,
    );
  }

  // ---------------------------------------------------------------- recovery

  async function recoverRecord(record: TxRecord, report: RecoveryMutable): Promise<void> {
    const { gid } = record;
    const retryLater = async (error: unknown): Promise<void> => {
      report.pending.push(gid);
      await log.update(gid, [record.state === 'active' ? 'aborting' : record.state], {
        attempts: record.attempts + 1,
        nextRetryAt: Date.now() + backoffMs(record.attempts, retry),
        lastError: message(error),
      });
    };
    if (record.kind === 'xa') {
      const verb = record.state === 'committing' ? 'COMMIT' : 'ROLLBACK';
      try {
        let all = true;
        for (const b of record.branches) {
          const pool = b.resource === undefined ? undefined : resources.get(b.resource);
          if (!pool) throw new Error(`resource "${b.resource}" is not configured in this process`);
          const outcome = await finishBranch(pool, verb, { gtrid: gid, bqual: b.id }, prefix);
          if (outcome === 'busy') all = false;
          if (outcome === 'rolled-back') {
            reportEvent(() => ({ gid, action: 'commit-answered-rollback', bqual: b.id }));
          }
        }
        if (!all) throw new Error('a branch is still attached to a live session');
        await log.update(gid, [record.state], {
          state: verb === 'COMMIT' ? 'committed' : 'aborted',
        });
        (verb === 'COMMIT' ? report.committed : report.aborted).push(gid);
      } catch (error) {
        await retryLater(error);
      }
      return;
    }
    let state = record.state;
    if (state === 'active') {
      // Past its deadline with no decision: its coordinator is presumed dead.
      if (!(await log.update(gid, ['active'], { state: 'aborting' }))) return;
      state = 'aborting';
    }
    if (record.kind === 'tcc') {
      try {
        await tccSecondPhase(gid, record.branches, state === 'committing' ? 'confirm' : 'cancel');
        await log.update(gid, [state], { state: state === 'committing' ? 'committed' : 'aborted' });
        (state === 'committing' ? report.committed : report.aborted).push(gid);
      } catch (error) {
        await retryLater(error);
      }
      return;
    }
    const outcome = await compensateSaga({ ...record, state }, record.attempts);
    if (outcome === 'aborted') report.aborted.push(gid);
    else if (outcome === 'needs-attention') report.needsAttention.push(gid);
    else report.pending.push(gid);
  }

  interface RecoveryMutable {
    committed: string[];
    aborted: string[];
    orphans: string[];
    pending: string[];
    needsAttention: string[];
  }

  async function recoverOnce(): Promise<RecoveryReport> {
    const report: RecoveryMutable = {
      committed: [],
      aborted: [],
      orphans: [],
      pending: [],
      needsAttention: [],
    };
    const now = Date.now();
    for (const record of await log.due(now, 1000)) {
      try {
        await recoverRecord(record, report);
      } catch (error) {
        report.pending.push(record.gid);
        reportError('recover', error, record.gid);
      }
    }
    // Prepared branches of ours that the log does not account for.
    const byGid = new Map<string, { resource: string; bqual: string }[]>();
    for (const [name, pool] of resources) {
      let xids: Awaited<ReturnType<typeof recoverXids>>;
      try {
        xids = await recoverXids(pool, prefix);
      } catch (error) {
        reportError('xa-recover', error);
        continue;
      }
      for (const x of xids) {
        const list = byGid.get(x.gtrid) ?? [];
        list.push({ resource: name, bqual: x.bqual });
        byGid.set(x.gtrid, list);
      }
    }
    for (const [gid, found] of byGid) {
      if (activeXa.has(gid)) continue;
      try {
        let record = await log.get(gid);
        if (!record) {
          const age = Date.now() - gidTime(gid, prefix);
          if (!(age > timeoutMs + graceMs)) continue;
          // Presumed abort, made durable first so a late decision by a slow coordinator loses.
          const t = Date.now();
          await log.create({
            gid,
            kind: 'xa',
            state: 'aborting',
            branches: found.map((f) => ({ id: f.bqual, resource: f.resource })),
            deadline: t,
            nextRetryAt: t,
            attempts: 0,
            lastError: 'prepared with no decision past timeout and grace: rolled back',
            createdAt: t,
            updatedAt: t,
          });
          record = await log.get(gid);
          if (record?.state === 'aborting') {
            report.orphans.push(gid);
            reportEvent(() => ({ gid, action: 'orphan-rolled-back', branches: found }));
          }
        }
        if (record?.kind !== 'xa') continue;
        // Branches the record did not list (or a record already marked finished): finish them
        // the way the log decided.
        const decidedCommit = record.state === 'committing' || record.state === 'committed';
        const branches = [
          ...record.branches,
          ...found
            .filter(
              (f) => !record.branches.some((b) => b.id === f.bqual && b.resource === f.resource),
            )
            .map((f) => ({ id: f.bqual, resource: f.resource })),
        ];
        await recoverRecord(
          { ...record, branches, state: decidedCommit ? 'committing' : 'aborting' },
          report,
        );
      } catch (error) {
        report.pending.push(gid);
        reportError('recover', error, gid);
      }
    }
    const uniq = (a: string[]) => [...new Set(a)];
    return {
      committed: uniq(report.committed),
      aborted: uniq(report.aborted.filter((g) => !report.orphans.includes(g))),
      orphans: uniq(report.orphans),
      pending: uniq(report.pending),
      needsAttention: uniq(report.needsAttention),
    };
  }

  // One pass at a time per manager; concurrent callers share it.
  let running: Promise<RecoveryReport> | null = null;
  const recover = (): Promise<RecoveryReport> => {
    running ??= recoverOnce().finally(() => {
      running = null;
    });
    return running;
  };

  let timer: NodeJS.Timeout | null = null;
  let sweeping: Promise<void> | null = null;
  async function sweep(): Promise<void> {
    try {
      if (options.locks) {
        const lock = await options.locks.tryAcquire(lockKey, { ttlMs: 30_000 });
        if (!lock) return;
        try {
          await recover();
        } finally {
          await lock.release().catch((e) => reportError('recovery-lock-release', e));
        }
      } else {
        await recover();
      }
    } catch (error) {
      reportError('recovery-sweep', error);
    }
  }
  const schedule = (): void => {
    if (closed || interval === false) return;
    timer = setTimeout(() => {
      timer = null;
      sweeping = sweep().finally(() => {
        sweeping = null;
        schedule();
      });
    }, interval);
    timer.unref();
  };
  schedule();

  const close = async (): Promise<void> => {
    closed = true;
    if (timer) clearTimeout(timer);
    timer = null;
    stop.abort();
    await sweeping;
    await running?.catch(() => undefined);
    await flushing;
    await Promise.all([...outcomeWrites.values()]);
  };

  return {
    xa: runXa,
    tcc: runTcc,
    saga: runSaga,
    async status(gid: string): Promise<TxStatus | null> {
      if (typeof gid !== 'string' || gid.length === 0 || gid.length > 64) {
        throw new TxArgumentError('status() needs a gid (a string of 1-64 characters)');
      }
      await outcomeWrites.get(gid);
      const record = await log.get(gid);
      if (record) return record;
      if (activeXa.has(gid)) {
        const t = gidTime(gid, prefix);
        return {
          gid,
          kind: 'xa',
          state: 'active',
          branches: [],
          deadline: t + timeoutMs,
          attempts: 0,
          lastError: null,
          createdAt: t,
          updatedAt: t,
        };
      }
      return null;
    },
    recover() {
      guard();
      return recover();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
