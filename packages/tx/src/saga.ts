import { backoffMs, sleep } from './backoff.js';
import { type ManagerContext, message, type Participant, positive } from './context.js';
import { TxAbortedError, TxArgumentError } from './errors.js';
import type { TxBranchRecord, TxRecord } from './log.js';
import type { SagaStep, TransactionOptions } from './types.js';
import { newGid } from './xa.js';

/**
 * `tm.saga()`: forward actions with a retry limit, compensation of the done steps in reverse
 * order, and a terminal `needs-attention` state when a compensation keeps failing.
 */

/**
 * Compensates the started steps of `record` in reverse, saving progress after each; a
 * compensation that fails `compensationAttempts` times puts the saga in `needs-attention`.
 */
export async function compensateSaga(
  ctx: ManagerContext,
  record: TxRecord,
  attemptsSoFar: number,
): Promise<'aborted' | 'needs-attention' | 'pending'> {
  const branches = [...record.branches];
  for (let i = branches.length - 1; i >= 0; i--) {
    const b = branches[i]!;
    if (!b.started) continue;
    const step = ctx.participant(b.name) as SagaStep<unknown> | undefined;
    if (!step || !('compensate' in step)) {
      await ctx.log.update(record.gid, ['aborting'], {
        nextRetryAt: Date.now() + backoffMs(attemptsSoFar, ctx.retry),
        lastError: `saga step "${b.name}" is not registered in this process`,
      });
      return 'pending';
    }
    let lastError: unknown;
    let ok = false;
    for (let attempt = 0; attempt < ctx.compensationAttempts; attempt++) {
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
        if (attempt + 1 < ctx.compensationAttempts)
          await sleep(backoffMs(attempt, ctx.retry), ctx.signal);
      }
    }
    if (!ok) {
      await ctx.log.update(record.gid, ['aborting'], {
        state: 'needs-attention',
        branches,
        attempts: attemptsSoFar + ctx.compensationAttempts,
        lastError: `compensation of step "${b.name}" failed ${ctx.compensationAttempts} times: ${message(lastError)}`,
      });
      return 'needs-attention';
    }
    branches[i] = { ...b, started: false, done: false };
    // Progress is saved so that a crash does not compensate this step again.
    await ctx.log.update(record.gid, ['aborting'], { branches });
  }
  await ctx.log.update(record.gid, ['aborting'], { state: 'aborted' });
  return 'aborted';
}

export async function runSaga(
  ctx: ManagerContext,
  steps: readonly SagaStep<never>[],
  o?: TransactionOptions,
): Promise<void> {
  ctx.guard();
  if (!Array.isArray(steps) || steps.length === 0) {
    throw new TxArgumentError('saga() needs a non-empty array of steps');
  }
  for (const s of steps) ctx.register(s as Participant, 'saga step');
  const limit = ctx.budget(o);
  const started = Date.now();
  const gid = newGid(ctx.prefix, started);
  let branches: TxBranchRecord[] = steps.map((s, i) => ({
    id: String(i + 1).padStart(2, '0'),
    name: s.name,
    input: s.input,
    started: i === 0,
    done: false,
  }));
  await ctx.log.create({
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
    const attempts = positive('step attempts', step.attempts, ctx.actionAttempts);
    let ok = false;
    for (let attempt = 0; attempt < attempts; attempt++) {
      try {
        await step.action({ gid, branch: branches[i]!.id, op: 'action', input: step.input });
        ok = true;
        break;
      } catch (error) {
        failure = error;
        if (attempt + 1 < attempts) await sleep(backoffMs(attempt, ctx.retry), ctx.signal);
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
    const saved = await ctx.log.update(
      gid,
      ['active'],
      last ? { branches, state: 'committed' } : { branches },
    );
    if (!saved) {
      failure = new Error('the saga was aborted by recovery (it timed out)');
      const rec = await ctx.log.get(gid);
      if (rec?.state === 'aborting') await compensateSaga(ctx, rec, 0);
      throw new TxAbortedError(gid, 'was compensated', failure);
    }
    if (last) return;
  }
  const ours = await ctx.log.update(gid, ['active'], {
    state: 'aborting',
    branches,
    lastError: message(failure),
  });
  const record = ours ? await ctx.log.get(gid) : null;
  const outcome = record ? await compensateSaga(ctx, record, 0) : 'pending';
  const rec = outcome === 'needs-attention' ? await ctx.log.get(gid) : null;
  throw new TxAbortedError(
    gid,
    outcome === 'needs-attention' ? `needs attention: ${rec?.lastError}` : 'was compensated',
    failure,
  );
}
