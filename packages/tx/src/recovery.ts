import { backoffMs } from './backoff.js';
import { type ManagerContext, message } from './context.js';
import { reportError, reportEvent } from './diagnostics.js';
import type { TxRecord } from './log.js';
import { compensateSaga } from './saga.js';
import { tccSecondPhase } from './tcc.js';
import type { RecoveryReport } from './types.js';
import { finishBranch, gidTime, recoverXids } from './xa.js';

/**
 * Recovery: finishes every open record whose retry time has come (decided: commit / confirm;
 * aborting or past its deadline: roll back / cancel / compensate), then rolls back prepared XA
 * branches of ours that no record accounts for, past timeout + grace (presumed abort).
 */

async function recoverRecord(
  ctx: ManagerContext,
  record: TxRecord,
  report: RecoveryMutable,
): Promise<void> {
  const { gid } = record;
  const retryLater = async (error: unknown): Promise<void> => {
    report.pending.push(gid);
    await ctx.log.update(gid, [record.state === 'active' ? 'aborting' : record.state], {
      attempts: record.attempts + 1,
      nextRetryAt: Date.now() + backoffMs(record.attempts, ctx.retry),
      lastError: message(error),
    });
  };
  if (record.kind === 'xa') {
    const verb = record.state === 'committing' ? 'COMMIT' : 'ROLLBACK';
    try {
      let all = true;
      for (const b of record.branches) {
        // Committed with the decision record itself (last-resource commit).
        if (b.local) continue;
        const pool = b.resource === undefined ? undefined : ctx.resources.get(b.resource);
        if (!pool) throw new Error(`resource "${b.resource}" is not configured in this process`);
        const outcome = await finishBranch(pool, verb, { gtrid: gid, bqual: b.id }, ctx.prefix);
        if (outcome === 'busy') all = false;
        if (outcome === 'rolled-back') {
          reportEvent(() => ({ gid, action: 'commit-answered-rollback', bqual: b.id }));
        }
      }
      if (!all) throw new Error('a branch is still attached to a live session');
      await ctx.log.update(gid, [record.state], {
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
    if (!(await ctx.log.update(gid, ['active'], { state: 'aborting' }))) return;
    state = 'aborting';
  }
  if (record.kind === 'tcc') {
    try {
      await tccSecondPhase(
        ctx,
        gid,
        record.branches,
        state === 'committing' ? 'confirm' : 'cancel',
      );
      await ctx.log.update(gid, [state], {
        state: state === 'committing' ? 'committed' : 'aborted',
      });
      (state === 'committing' ? report.committed : report.aborted).push(gid);
    } catch (error) {
      await retryLater(error);
    }
    return;
  }
  const outcome = await compensateSaga(ctx, { ...record, state }, record.attempts);
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

/** One recovery pass over the log's due records and every resource's `XA RECOVER`. */
export async function recoverOnce(ctx: ManagerContext): Promise<RecoveryReport> {
  const report: RecoveryMutable = {
    committed: [],
    aborted: [],
    orphans: [],
    pending: [],
    needsAttention: [],
  };
  const now = Date.now();
  for (const record of await ctx.log.due(now, 1000)) {
    try {
      await recoverRecord(ctx, record, report);
    } catch (error) {
      report.pending.push(record.gid);
      reportError('recover', error, record.gid);
    }
  }
  // Prepared branches of ours that the log does not account for.
  const byGid = new Map<string, { resource: string; bqual: string }[]>();
  for (const [name, pool] of ctx.resources) {
    let xids: Awaited<ReturnType<typeof recoverXids>>;
    try {
      xids = await recoverXids(pool, ctx.prefix);
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
    if (ctx.activeXa.has(gid)) continue;
    try {
      let record = await ctx.log.get(gid);
      if (!record) {
        const age = Date.now() - gidTime(gid, ctx.prefix);
        if (!(age > ctx.timeoutMs + ctx.graceMs)) continue;
        // Presumed abort, made durable first so a late decision by a slow coordinator loses.
        const t = Date.now();
        await ctx.log.create({
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
        record = await ctx.log.get(gid);
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
        ctx,
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
