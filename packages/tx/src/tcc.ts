import { drive, isFn, type ManagerContext, message, type Participant } from './context.js';
import { reportError } from './diagnostics.js';
import { TxAbortedError, TxArgumentError, TxPendingError } from './errors.js';
import type { TxBranchRecord } from './log.js';
import type { BranchContext, TccBranch, TccTransaction, TransactionOptions } from './types.js';
import { newGid } from './xa.js';

/**
 * `tm.tcc()`: try / confirm / cancel. Each branch is logged before its try; the decision is a
 * compare-and-set of the record's state; confirm or cancel of every logged branch is driven for
 * `phaseTwoTimeoutMs` and then left to recovery.
 */

/** Confirms or cancels every branch once (in parallel); throws the first failure. */
export async function tccSecondPhase(
  ctx: ManagerContext,
  gid: string,
  branches: readonly TxBranchRecord[],
  op: 'confirm' | 'cancel',
): Promise<void> {
  await Promise.all(
    branches.map(async (b) => {
      const p = ctx.participant(b.name) as TccBranch<unknown> | undefined;
      if (!p || !('confirm' in p)) {
        throw new Error(`TCC branch "${b.name}" is not registered in this process`);
      }
      const call: BranchContext = { gid, branch: b.id, op, input: b.input };
      await (op === 'confirm' ? p.confirm(call) : p.cancel(call));
    }),
  );
}

export async function runTcc<T>(
  ctx: ManagerContext,
  fn: (tx: TccTransaction) => Promise<T>,
  o?: TransactionOptions,
): Promise<T> {
  ctx.guard();
  if (!isFn(fn)) throw new TxArgumentError('tcc() needs a function');
  const limit = ctx.budget(o);
  const started = Date.now();
  const gid = newGid(ctx.prefix, started);
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
      ctx.register(branch as unknown as Participant, 'TCC branch');
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
          ? await ctx.log.update(gid, ['active'], { branches: snapshot })
          : await ctx.log.create({
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
    const ours = await ctx.log.update(gid, ['active'], {
      state: 'aborting',
      nextRetryAt: Date.now() + ctx.phaseTwoTimeoutMs,
    });
    if (ours) await finishTcc(ctx, gid, branches, 'cancel');
    throw new TxAbortedError(gid, 'was cancelled', error);
  }
  if (!created) return result;
  const decided = await ctx.log.update(gid, ['active'], {
    state: 'committing',
    nextRetryAt: Date.now() + ctx.phaseTwoTimeoutMs,
  });
  if (!decided) throw new TxAbortedError(gid, 'was cancelled by recovery (try phase timed out)');
  const confirm = finishTcc(ctx, gid, branches, 'confirm');
  if (ctx.awaitPhaseTwo) await confirm;
  else ctx.background(confirm);
  return result;
}

/** Drives confirm or cancel of every branch in the log record for the phase-two budget. */
async function finishTcc(
  ctx: ManagerContext,
  gid: string,
  branches: readonly TxBranchRecord[],
  op: 'confirm' | 'cancel',
): Promise<void> {
  const failure = await drive(
    ctx,
    async () => {
      await tccSecondPhase(ctx, gid, branches, op);
      return true;
    },
    Date.now() + ctx.phaseTwoTimeoutMs,
  );
  const from = op === 'confirm' ? 'committing' : 'aborting';
  if (failure !== undefined) {
    await ctx.log
      .update(gid, [from], { nextRetryAt: Date.now(), lastError: message(failure) })
      .catch((e) => reportError('log-update', e, gid));
    throw new TxPendingError(gid, op === 'confirm' ? 'commit' : 'rollback', failure);
  }
  ctx.recordOutcome(gid, from, op === 'confirm' ? 'committed' : 'aborted');
}
