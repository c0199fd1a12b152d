import { isFn, type ManagerContext, type Participant, positive } from './context.js';
import { reportError } from './diagnostics.js';
import { TxArgumentError, TxClosedError } from './errors.js';
import { outcomeWriter } from './outcome-writer.js';
import type { MysqlPoolLike } from './pool-types.js';
import { recoverOnce } from './recovery.js';
import { runSaga } from './saga.js';
import { runTcc } from './tcc.js';
import type {
  RecoveryReport,
  TransactionManager,
  TransactionManagerOptions,
  TransactionOptions,
  TxStatus,
} from './types.js';
import { gidTime } from './xa.js';
import { runXa } from './xa-mode.js';

/**
 * The embedded transaction manager: XA two-phase commit (xa-mode.ts), TCC (tcc.ts) and sagas
 * (saga.ts) over one durable log, finished after crashes by recovery (recovery.ts). This file
 * validates the options, holds the state they share and runs the background sweeper.
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
  // Last-resource commit: only when the log writes through the very pool of a resource (so the
  // decision's INSERT on that resource's connection lands in the table recovery reads).
  let lastResource: string | undefined;
  if (options.lastResourceCommit !== false && log.pool && isFn(log.createIn)) {
    lastResource = resourceNames.get(log.pool);
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
  const stop = new AbortController();
  const outcomes = outcomeWriter(log);
  const backgroundTasks = new Set<Promise<void>>();
  const ctx: ManagerContext = {
    log,
    prefix,
    timeoutMs,
    graceMs,
    phaseTwoTimeoutMs,
    actionAttempts,
    compensationAttempts,
    retry: options.retry ?? {},
    resources,
    resourceNames,
    lastResource,
    awaitPhaseTwo: options.awaitPhaseTwo !== false,
    background(task) {
      const tracked = task
        .catch((error) => reportError('phase-two', error, (error as { gid?: string }).gid))
        .finally(() => backgroundTasks.delete(tracked));
      backgroundTasks.add(tracked);
    },
    activeXa: new Set<string>(),
    signal: stop.signal,
    guard() {
      if (closed) throw new TxClosedError();
    },
    budget: (o?: TransactionOptions) => positive('timeoutMs', o?.timeoutMs, timeoutMs),
    register,
    participant: (name) => (name === undefined ? undefined : participants.get(name)),
    recordOutcome: (gid, from, to) => outcomes.record(gid, from, to),
  };

  // One pass at a time per manager; concurrent callers share it.
  let running: Promise<RecoveryReport> | null = null;
  const recover = (): Promise<RecoveryReport> => {
    running ??= recoverOnce(ctx).finally(() => {
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
    // Background commit phases end early once `stop` is aborted (their retries stop; what is
    // unfinished stays `committing` in the log, for recovery).
    await Promise.all([...backgroundTasks]);
    await outcomes.drain();
  };

  return {
    xa: (fn, o) => runXa(ctx, fn, o),
    tcc: (fn, o) => runTcc(ctx, fn, o),
    saga: (steps, o) => runSaga(ctx, steps, o),
    async status(gid: string): Promise<TxStatus | null> {
      if (typeof gid !== 'string' || gid.length === 0 || gid.length > 64) {
        throw new TxArgumentError('status() needs a gid (a string of 1-64 characters)');
      }
      await outcomes.pending(gid);
      const record = await log.get(gid);
      if (record) return record;
      if (ctx.activeXa.has(gid)) {
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
      ctx.guard();
      return recover();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
