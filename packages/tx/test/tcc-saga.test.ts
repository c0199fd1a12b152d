import { requireMysql } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BranchContext,
  barrier,
  createTransactionManager,
  memoryTxLog,
  type SagaStep,
  type TccBranch,
  type TransactionManager,
  TxAbortedError,
  TxPendingError,
} from '../src/index.js';
import { participantDb } from './helpers/shared.js';

const mysql = await requireMysql();

describe.skipIf(!mysql.available)(
  'TCC with the barrier (memory log, shared MariaDB participant)',
  () => {
    let db: Awaited<ReturnType<typeof participantDb>>;
    const managers: TransactionManager[] = [];
    const manager = (
      log = memoryTxLog(),
      extra: Partial<Parameters<typeof createTransactionManager>[0]> = {},
    ) => {
      const tm = createTransactionManager({
        log,
        recoveryIntervalMs: false,
        phaseTwoTimeoutMs: 300,
        retry: { baseMs: 5, maxMs: 20 },
        ...extra,
      });
      managers.push(tm);
      return tm;
    };
    let stock: TccBranch<{ qty: number }, void>;
    let confirmFailures = 0;

    beforeAll(async () => {
      db = await participantDb('tcc');
      const b = barrier(db.pool, { table: db.barrierTable });
      const t = `\`${db.stockTable}\``;
      const guarded =
        (sql: string) =>
        async (ctx: BranchContext<{ qty: number }>): Promise<void> => {
          await b.run({ gid: ctx.gid, branch: ctx.branch, op: ctx.op as 'try' }, async (conn) => {
            await conn.query(sql, [ctx.input.qty, ctx.input.qty]);
          });
        };
      stock = {
        name: 'stock',
        try: async (ctx) => {
          if (ctx.input.qty > 50) throw new Error('not enough stock');
          await guarded(
            `UPDATE ${t} SET available = available - ?, reserved = reserved + ? WHERE id = 1`,
          )(ctx);
        },
        confirm: async (ctx) => {
          if (confirmFailures > 0) {
            confirmFailures--;
            throw new Error('confirm endpoint down');
          }
          await guarded(`UPDATE ${t} SET reserved = reserved - ?, sold = sold + ? WHERE id = 1`)(
            ctx,
          );
        },
        cancel: guarded(
          `UPDATE ${t} SET available = available + ?, reserved = reserved - ? WHERE id = 1`,
        ),
      };
    });
    afterAll(async () => {
      for (const tm of managers) await tm.close();
      await db?.dispose();
    });

    it('tries, then confirms every branch', async () => {
      const tm = manager();
      const before = await db.stock();
      let gid = '';
      await tm.tcc(async (tx) => {
        gid = tx.gid;
        await tx.try(stock, { qty: 2 });
        await tx.try(stock, { qty: 3 });
      });
      expect(await db.stock()).toEqual({
        available: before.available - 5,
        reserved: before.reserved,
        sold: before.sold + 5,
      });
      const status = await tm.status(gid);
      expect(status?.state).toBe('committed');
      expect(status?.branches.map((b) => b.id)).toEqual(['01', '02']);
    });

    it('a failed try cancels the tried branches, including the failed one (null compensation)', async () => {
      const tm = manager();
      const before = await db.stock();
      const error = await tm
        .tcc(async (tx) => {
          await tx.try(stock, { qty: 4 });
          await tx.try(stock, { qty: 99 });
        })
        .catch((e) => e);
      expect(TxAbortedError.isInstance(error)).toBe(true);
      expect((error as Error).cause).toEqual(new Error('not enough stock'));
      expect(await db.stock()).toEqual(before);
      expect((await tm.status((error as TxAbortedError).gid!))?.state).toBe('aborted');
    });

    it('a confirm that keeps failing leaves the decision to recovery, which confirms it', async () => {
      const log = memoryTxLog();
      const tm = manager(log, { participants: [] });
      const before = await db.stock();
      confirmFailures = 1_000;
      const error = await tm.tcc(async (tx) => tx.try(stock, { qty: 1 })).catch((e) => e);
      expect(TxPendingError.isInstance(error)).toBe(true);
      const gid = (error as TxPendingError).gid!;
      expect((await tm.status(gid))?.state).toBe('committing');
      confirmFailures = 0;
      const other = manager(log, { participants: [stock] });
      const report = await other.recover();
      expect(report.committed).toEqual([gid]);
      expect((await db.stock()).sold).toBe(before.sold + 1);
    });

    it('a coordinator that dies in its try phase is cancelled by recovery after its timeout', async () => {
      const log = memoryTxLog();
      const dead = manager(log, { timeoutMs: 50 });
      const before = await db.stock();
      let gid = '';
      let hang: () => void = () => {};
      const left = dead.tcc(async (tx) => {
        gid = tx.gid;
        await tx.try(stock, { qty: 7 });
        await new Promise<void>((resolve) => {
          hang = resolve;
        });
      });
      await expect.poll(() => gid).not.toBe('');
      await expect.poll(async () => (await db.stock()).reserved).toBe(before.reserved + 7);
      const rescuer = manager(log, { participants: [stock] });
      await expect
        .poll(async () => (await rescuer.recover()).aborted, { timeout: 5000 })
        .toEqual([gid]);
      expect(await db.stock()).toEqual(before);
      // The "dead" coordinator wakes up: its decision loses against the log.
      hang();
      await expect(left).rejects.toSatisfy(TxAbortedError.isInstance);
      expect((await rescuer.status(gid))?.state).toBe('aborted');
    });
  },
);

describe('sagas (memory log)', () => {
  const managers: TransactionManager[] = [];
  afterAll(async () => {
    for (const tm of managers) await tm.close();
  });
  const manager = (
    log = memoryTxLog(),
    extra: Partial<Parameters<typeof createTransactionManager>[0]> = {},
  ) => {
    const tm = createTransactionManager({
      log,
      recoveryIntervalMs: false,
      retry: { baseMs: 1, maxMs: 5 },
      sagaActionAttempts: 2,
      compensationAttempts: 3,
      ...extra,
    });
    managers.push(tm);
    return tm;
  };
  const steps = (failAt: number, journal: string[], compensationFailures = 0): SagaStep<never>[] =>
    ['debit', 'ship', 'notify'].map((name, i) => ({
      name: `${name}-${failAt}-${compensationFailures}`,
      action: () => {
        if (i === failAt) throw new Error(`${name} failed`);
        journal.push(`do ${name}`);
      },
      compensate: () => {
        if (compensationFailures-- > 0) throw new Error(`undo ${name} failed`);
        journal.push(`undo ${name}`);
      },
    }));

  it('runs every action in order when none fails', async () => {
    const journal: string[] = [];
    await manager().saga(steps(-1, journal));
    expect(journal).toEqual(['do debit', 'do ship', 'do notify']);
  });

  for (const [failAt, expected] of [
    [0, []],
    [1, ['do debit', 'undo debit']],
    [2, ['do debit', 'do ship', 'undo ship', 'undo debit']],
  ] as const) {
    it(`a failure at step ${failAt + 1} compensates the done steps in reverse`, async () => {
      const journal: string[] = [];
      const tm = manager();
      const error = await tm.saga(steps(failAt, journal)).catch((e) => e);
      expect(TxAbortedError.isInstance(error)).toBe(true);
      expect(journal).toEqual(expected);
      expect((await tm.status((error as TxAbortedError).gid!))?.state).toBe('aborted');
    });
  }

  it('retries an action up to its attempts before compensating', async () => {
    let calls = 0;
    await manager().saga([
      {
        name: 'flaky',
        attempts: 3,
        action: () => {
          if (++calls < 3) throw new Error('flaky');
        },
        compensate: () => undefined,
      },
    ]);
    expect(calls).toBe(3);
  });

  it('a compensation that fails every attempt lands in needs-attention with its cause', async () => {
    const journal: string[] = [];
    const tm = manager();
    const error = await tm.saga(steps(2, journal, 99)).catch((e) => e);
    expect(TxAbortedError.isInstance(error)).toBe(true);
    const status = await tm.status((error as TxAbortedError).gid!);
    expect(status?.state).toBe('needs-attention');
    expect(status?.lastError).toMatch(
      /compensation of step "ship-2-99" failed 3 times: undo ship failed/,
    );
    expect(journal).toEqual(['do debit', 'do ship']);
  });

  it('a compensation that fails fewer times than the limit still completes', async () => {
    const journal: string[] = [];
    const tm = manager();
    const error = await tm.saga(steps(2, journal, 2)).catch((e) => e);
    expect((await tm.status((error as TxAbortedError).gid!))?.state).toBe('aborted');
    expect(journal).toEqual(['do debit', 'do ship', 'undo ship', 'undo debit']);
  });
});

describe('TCC tries in parallel (memory log)', () => {
  it('logs the branches in order before their tries, confirms all, and cancels all when one failed even if the callback caught it', async () => {
    const log = memoryTxLog();
    const calls: string[] = [];
    const branch = (name: string, fail = false) => ({
      name,
      try: async () => {
        if (fail) throw new Error(`${name} refused`);
        calls.push(`try ${name}`);
      },
      confirm: () => void calls.push(`confirm ${name}`),
      cancel: () => void calls.push(`cancel ${name}`),
    });
    const a = branch('par-a');
    const b = branch('par-b');
    const c = branch('par-c', true);
    const tm = createTransactionManager({ log, recoveryIntervalMs: false });
    let gid = '';
    await tm.tcc(async (tx) => {
      gid = tx.gid;
      await Promise.all([tx.try(a, 1), tx.try(b, 2)]);
    });
    expect((await tm.status(gid))?.branches.map((x) => x.name)).toEqual(['par-a', 'par-b']);
    expect(calls.sort()).toEqual(['confirm par-a', 'confirm par-b', 'try par-a', 'try par-b']);
    calls.length = 0;
    const error = await tm
      .tcc(async (tx) => {
        gid = tx.gid;
        await Promise.all([tx.try(a, 1), tx.try(c, 3).catch(() => 'swallowed')]);
      })
      .catch((e) => e);
    expect(TxAbortedError.isInstance(error)).toBe(true);
    expect(calls.sort()).toEqual(['cancel par-a', 'cancel par-c', 'try par-a']);
    expect((await tm.status(gid))?.state).toBe('aborted');
    await tm.close();
  });
});
