import { fileURLToPath } from 'node:url';
import {
  requireMariadbBinaries,
  requireMysql,
  SHARED_MYSQL_URL,
  spawnNodeWorker,
  waitUntil,
} from '@dlock/test-utils';
import type { Pool } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createTransactionManager,
  type MysqlPoolLike,
  mysqlTxLog,
  type TransactionManager,
  TxAbortedError,
  type XaTransaction,
} from '../src/index.js';
import { ACCOUNTS, type Bank, OPENING, startBank } from './helpers/bank.js';

const binaries = await requireMariadbBinaries();
const mysql = await requireMysql();
const worker = fileURLToPath(new URL('./workers/xa-coordinator.ts', import.meta.url));
const TOTAL = 2 * ACCOUNTS * OPENING;

describe.skipIf(!binaries.available || !mysql.available)('XA over two private MariaDB RMs', () => {
  let bank: Bank;
  const managers: TransactionManager[] = [];
  const manager = (overrides: Partial<Parameters<typeof createTransactionManager>[0]> = {}) => {
    const tm = createTransactionManager({
      log: mysqlTxLog(bank.logPool, { table: bank.logTable }),
      resources: { a: bank.poolA, b: bank.poolB },
      recoveryIntervalMs: false,
      timeoutMs: 1000,
      graceMs: 0,
      ...overrides,
    });
    managers.push(tm);
    return tm;
  };
  const transfer =
    (from: Pool, to: Pool, amount: number, fromId = 1, toId = 1) =>
    async (tx: XaTransaction): Promise<void> => {
      await tx.branch(from, async (conn) => {
        const [r] = await conn.query(
          'UPDATE accounts SET balance = balance - ? WHERE id = ? AND balance >= ?',
          [amount, fromId, amount],
        );
        if ((r as { affectedRows: number }).affectedRows !== 1) {
          throw new Error('insufficient funds');
        }
      });
      await tx.branch(to, (conn) =>
        conn.query('UPDATE accounts SET balance = balance + ? WHERE id = ?', [amount, toId]),
      );
    };

  beforeAll(async () => {
    bank = await startBank();
  }, 90_000);
  afterAll(async () => {
    for (const tm of managers) await tm.close();
    await bank?.dispose();
  });
  beforeEach(async () => {
    await bank.reset();
  });

  it('commits both branches and logs the outcome', async () => {
    const tm = manager();
    let gid = '';
    await tm.xa(async (tx) => {
      gid = tx.gid;
      await transfer(bank.poolA, bank.poolB, 100)(tx);
    });
    expect(await bank.balance(bank.poolA, 1)).toBe(OPENING - 100);
    expect(await bank.balance(bank.poolB, 1)).toBe(OPENING + 100);
    expect((await tm.status(gid))?.state).toBe('committed');
    expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
  });

  it('rolls every branch back when a branch fails, and logs nothing (presumed abort)', async () => {
    const tm = manager();
    let gid = '';
    const error = await tm
      .xa(async (tx) => {
        gid = tx.gid;
        await transfer(bank.poolB, bank.poolA, 5000)(tx);
      })
      .catch((e) => e);
    expect(TxAbortedError.isInstance(error)).toBe(true);
    expect((error as Error).cause).toEqual(new Error('insufficient funds'));
    expect(await bank.total()).toBe(TOTAL);
    expect(await tm.status(gid)).toBeNull();
    expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
  });

  it('rolls back prepared branches when the callback throws after them', async () => {
    const tm = manager();
    await expect(
      tm.xa(async (tx) => {
        await transfer(bank.poolA, bank.poolB, 10)(tx);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow(/rolled back/);
    expect(await bank.balance(bank.poolA, 1)).toBe(OPENING);
    expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
  });

  it('keeps the sum of balances constant under 8 concurrent workers', async () => {
    const tm = manager({ timeoutMs: 10_000 });
    const committed: string[] = [];
    let aborted = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 12; i++) {
          const forward = (w + i) % 2 === 0;
          const amount = 1 + ((w * 31 + i * 17) % 400);
          const fromId = 1 + ((w + i) % ACCOUNTS);
          const toId = 1 + ((w * 3 + i) % ACCOUNTS);
          let gid = '';
          try {
            await tm.xa((tx) => {
              gid = tx.gid;
              return transfer(
                forward ? bank.poolA : bank.poolB,
                forward ? bank.poolB : bank.poolA,
                amount,
                fromId,
                toId,
              )(tx);
            });
            committed.push(gid);
          } catch (error) {
            expect(TxAbortedError.isInstance(error)).toBe(true);
            aborted++;
          }
        }
      }),
    );
    expect(committed.length + aborted).toBe(96);
    expect(committed.length).toBeGreaterThan(0);
    expect(await bank.total()).toBe(TOTAL);
    expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
    // Outcomes of concurrent transactions are written in batches; close() waits for them.
    await tm.close();
    const log = mysqlTxLog(bank.logPool, { table: bank.logTable });
    for (const gid of committed) expect((await log.get(gid))?.state).toBe('committed');
  });

  const steps = [
    ['after-one-prepare', 'aborted'],
    ['after-all-prepares', 'aborted'],
    ['after-decision', 'committed'],
    ['between-commits', 'committed'],
  ] as const;
  for (const [killAt, outcome] of steps) {
    it(`coordinator SIGKILLed ${killAt}: recovery from another process ends it ${outcome}`, async () => {
      const child = await spawnNodeWorker(worker, {
        env: {
          KILL_AT: killAt,
          RM_A: bank.rmA.url,
          RM_B: bank.rmB.url,
          LOG_URL: SHARED_MYSQL_URL,
          LOG_TABLE: bank.logTable,
        },
      });
      const [, gid] = (await child.waitForOutput(/GID (\S+)/, 15_000)) as RegExpMatchArray;
      await child.waitForOutput(/KILLPOINT/, 15_000);
      await child.kill();
      const tm = manager();
      // Recovery acts once the branches are detached and the timeout has passed.
      await waitUntil(
        async () => {
          await tm.recover();
          const status = await tm.status(gid!);
          const prepared = await bank.prepared();
          return status?.state === outcome && prepared.a === 0 && prepared.b === 0;
        },
        { timeoutMs: 15_000, intervalMs: 200, message: `${killAt} recovered` },
      );
      const moved = outcome === 'committed' ? 10 : 0;
      expect(await bank.balance(bank.poolA, 1)).toBe(OPENING - moved);
      expect(await bank.balance(bank.poolB, 1)).toBe(OPENING + moved);
      expect(await bank.total()).toBe(TOTAL);
    });
  }

  it('a branch prepared when its RM is SIGKILLed survives the restart, and recovery commits it', async () => {
    const child = await spawnNodeWorker(worker, {
      env: {
        KILL_AT: 'after-decision',
        RM_A: bank.rmA.url,
        RM_B: bank.rmB.url,
        LOG_URL: SHARED_MYSQL_URL,
        LOG_TABLE: bank.logTable,
      },
    });
    const [, gid] = (await child.waitForOutput(/GID (\S+)/, 15_000)) as RegExpMatchArray;
    await child.waitForOutput(/KILLPOINT/, 15_000);
    await bank.rmB.crashAndRestart();
    await child.kill();
    // InnoDB recovered the prepared branch from its redo log.
    await waitUntil(async () => (await bank.prepared()).b === 1, {
      timeoutMs: 10_000,
      message: 'B lists the prepared branch after its restart',
    });
    const tm = manager();
    await waitUntil(
      async () => {
        await tm.recover();
        return (await tm.status(gid!))?.state === 'committed';
      },
      { timeoutMs: 15_000, intervalMs: 200, message: 'recovered' },
    );
    expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
    expect(await bank.balance(bank.poolB, 1)).toBe(OPENING + 10);
    expect(await bank.total()).toBe(TOTAL);
  }, 60_000);

  it('an unknown prepared branch of ours is rolled back and reported as an orphan; others are left alone', async () => {
    const conn = await bank.poolA.getConnection();
    const FORMAT = 0x646c6b;
    const stale = `dlock.${(Date.now() - 60_000).toString(36)}.00000000000000ff`;
    await conn.query('XA START ?, ?, ?', [stale, 'b1', FORMAT]);
    await conn.query('UPDATE accounts SET balance = balance - 1 WHERE id = 2');
    await conn.query('XA END ?, ?, ?', [stale, 'b1', FORMAT]);
    await conn.query('XA PREPARE ?, ?, ?', [stale, 'b1', FORMAT]);
    conn.destroy();
    const foreign = await bank.poolA.getConnection();
    await foreign.query("XA START 'someone-else', 'x', 1");
    await foreign.query('UPDATE accounts SET balance = balance + 1 WHERE id = 3');
    await foreign.query("XA END 'someone-else', 'x', 1");
    await foreign.query("XA PREPARE 'someone-else', 'x', 1");
    foreign.destroy();
    const tm = manager();
    const report = await waitUntil(
      async () => {
        const r = await tm.recover();
        return r.orphans.includes(stale) ? r : null;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(report.orphans).toEqual([stale]);
    expect((await tm.status(stale))?.state).toBe('aborted');
    expect(await bank.balance(bank.poolA, 2)).toBe(OPENING);
    expect(await bank.prepared()).toEqual({ a: 1, b: 0 });
    await bank.poolA.query("XA ROLLBACK 'someone-else', 'x', 1");
    expect(await bank.balance(bank.poolA, 3)).toBe(OPENING);
  });

  describe('last-resource commit (the log on RM A, beside a branch)', () => {
    const lrcManager = (overrides: Partial<Parameters<typeof createTransactionManager>[0]> = {}) =>
      manager({ log: mysqlTxLog(bank.poolA, { table: bank.logTable }), ...overrides });
    const lrcLog = () => mysqlTxLog(bank.poolA, { table: bank.logTable });

    it("commits A's branch as a local transaction with the decision, B by XA", async () => {
      const tm = lrcManager();
      const seen: string[] = [];
      let gid = '';
      await tm.xa(async (tx) => {
        gid = tx.gid;
        await tx.branch(bank.poolA, async (conn) => {
          // A local transaction, not an XA branch: XA RECOVER could never list it.
          const [rows] = await conn.query('SELECT @@in_transaction AS t');
          seen.push(`in_transaction=${(rows as { t: number }[])[0]!.t}`);
          await conn.query('UPDATE accounts SET balance = balance - 100 WHERE id = 1');
        });
        await tx.branch(bank.poolB, (conn) =>
          conn.query('UPDATE accounts SET balance = balance + 100 WHERE id = 1'),
        );
      });
      expect(seen).toEqual(['in_transaction=1']);
      expect(await bank.balance(bank.poolA, 1)).toBe(OPENING - 100);
      expect(await bank.balance(bank.poolB, 1)).toBe(OPENING + 100);
      const status = await tm.status(gid);
      expect(status?.state).toBe('committed');
      expect(status?.branches).toEqual([
        { id: 'b1', resource: 'a', local: true },
        { id: 'b2', resource: 'b' },
      ]);
      // The decision is in RM A's table, not in the log on the shared server.
      expect(await mysqlTxLog(bank.logPool, { table: bank.logTable }).get(gid)).toBeNull();
      expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
    });

    it('runs every branch by XA with lastResourceCommit: false', async () => {
      const tm = lrcManager({ lastResourceCommit: false });
      let gid = '';
      await tm.xa(async (tx) => {
        gid = tx.gid;
        await transfer(bank.poolA, bank.poolB, 7)(tx);
      });
      expect((await tm.status(gid))?.branches).toEqual([
        { id: 'b1', resource: 'a' },
        { id: 'b2', resource: 'b' },
      ]);
      expect(await bank.balance(bank.poolB, 1)).toBe(OPENING + 7);
    });

    it('rolls back the local branch and the prepared one when a branch fails', async () => {
      const tm = lrcManager();
      let gid = '';
      const error = await tm
        .xa(async (tx) => {
          gid = tx.gid;
          await tx.branch(bank.poolA, (conn) =>
            conn.query('UPDATE accounts SET balance = balance + 5 WHERE id = 2'),
          );
          await transfer(bank.poolB, bank.poolA, 5000)(tx);
        })
        .catch((e) => e);
      expect(TxAbortedError.isInstance(error)).toBe(true);
      expect(await bank.balance(bank.poolA, 2)).toBe(OPENING);
      expect(await bank.total()).toBe(TOTAL);
      expect(await tm.status(gid)).toBeNull();
      expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
    });

    it('loses to an abort record written first (recovery presumed it dead): all rolled back', async () => {
      const tm = lrcManager();
      const log = lrcLog();
      let gid = '';
      const error = await tm
        .xa(async (tx) => {
          gid = tx.gid;
          await transfer(bank.poolA, bank.poolB, 10)(tx);
          const t = Date.now();
          await log.create({
            gid,
            kind: 'xa',
            state: 'aborting',
            branches: [{ id: 'b2', resource: 'b' }],
            deadline: t,
            nextRetryAt: t + 60_000,
            attempts: 0,
            lastError: 'presumed abort',
            createdAt: t,
            updatedAt: t,
          });
        })
        .catch((e) => e);
      expect(TxAbortedError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/by recovery/);
      expect((await tm.status(gid))?.state).toBe('aborting');
      expect(await bank.balance(bank.poolA, 1)).toBe(OPENING);
      expect(await bank.balance(bank.poolB, 1)).toBe(OPENING);
      expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
    });

    it('keeps the sum of balances constant under 8 concurrent workers', async () => {
      const tm = lrcManager({ timeoutMs: 10_000 });
      const committed: string[] = [];
      let aborted = 0;
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 12; i++) {
            const forward = (w + i) % 2 === 0;
            const amount = 1 + ((w * 31 + i * 17) % 400);
            let gid = '';
            try {
              await tm.xa((tx) => {
                gid = tx.gid;
                return transfer(
                  forward ? bank.poolA : bank.poolB,
                  forward ? bank.poolB : bank.poolA,
                  amount,
                  1 + ((w + i) % ACCOUNTS),
                  1 + ((w * 3 + i) % ACCOUNTS),
                )(tx);
              });
              committed.push(gid);
            } catch (error) {
              expect(TxAbortedError.isInstance(error)).toBe(true);
              aborted++;
            }
          }
        }),
      );
      expect(committed.length + aborted).toBe(96);
      expect(committed.length).toBeGreaterThan(0);
      expect(await bank.total()).toBe(TOTAL);
      expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
      await tm.close();
      for (const gid of committed) expect((await lrcLog().get(gid))?.state).toBe('committed');
    });

    const lrcSteps = [
      ['lrc-after-prepare', 'aborted'],
      ['lrc-before-commit', 'aborted'],
      ['lrc-after-commit', 'committed'],
    ] as const;
    for (const [killAt, outcome] of lrcSteps) {
      it(`coordinator SIGKILLed ${killAt}: recovery from another process ends it ${outcome}`, async () => {
        const child = await spawnNodeWorker(worker, {
          env: {
            KILL_AT: killAt,
            LRC: '1',
            RM_A: bank.rmA.url,
            RM_B: bank.rmB.url,
            LOG_URL: SHARED_MYSQL_URL,
            LOG_TABLE: bank.logTable,
          },
        });
        const [, gid] = (await child.waitForOutput(/GID (\S+)/, 15_000)) as RegExpMatchArray;
        await child.waitForOutput(/KILLPOINT/, 15_000);
        await child.kill();
        const tm = lrcManager();
        await waitUntil(
          async () => {
            await tm.recover();
            const status = await tm.status(gid!);
            const prepared = await bank.prepared();
            return status?.state === outcome && prepared.a === 0 && prepared.b === 0;
          },
          { timeoutMs: 15_000, intervalMs: 200, message: `${killAt} recovered` },
        );
        const moved = outcome === 'committed' ? 10 : 0;
        expect(await bank.balance(bank.poolA, 1)).toBe(OPENING - moved);
        expect(await bank.balance(bank.poolB, 1)).toBe(OPENING + moved);
        expect(await bank.total()).toBe(TOTAL);
      });
    }

    it('the process exits once xa() resolved at the decision (awaitPhaseTwo: false): recovery commits B', async () => {
      const child = await spawnNodeWorker(worker, {
        env: {
          KILL_AT: 'lrc-after-commit',
          LRC: '1',
          AWAIT: '0',
          RM_A: bank.rmA.url,
          RM_B: bank.rmB.url,
          LOG_URL: SHARED_MYSQL_URL,
          LOG_TABLE: bank.logTable,
        },
      });
      const [, gid] = (await child.waitForOutput(/GID (\S+)/, 15_000)) as RegExpMatchArray;
      // The caller was told "committed" while B's XA COMMIT was still outstanding.
      await child.waitForOutput(/DONE/, 15_000);
      await child.kill();
      expect((await lrcLog().get(gid!))?.state).toBe('committing');
      const tm = lrcManager();
      await waitUntil(
        async () => {
          await tm.recover();
          return (await tm.status(gid!))?.state === 'committed';
        },
        { timeoutMs: 15_000, intervalMs: 200, message: 'recovered' },
      );
      expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
      expect(await bank.balance(bank.poolB, 1)).toBe(OPENING + 10);
      expect(await bank.total()).toBe(TOTAL);
    });
  });

  describe('awaitPhaseTwo: false (xa() resolves at the decision)', () => {
    it('resolves while XA COMMIT is held up, reports committing, and close() waits for the commit', async () => {
      let open: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const gatedB: MysqlPoolLike = {
        async getConnection() {
          const conn = await bank.poolB.getConnection();
          return {
            async query(sql: string, values?: unknown[]) {
              if (sql.startsWith('XA COMMIT')) await gate;
              return conn.query(sql, values);
            },
            release: () => conn.release(),
            destroy: () => conn.destroy(),
          };
        },
      };
      const tm = manager({ resources: { a: bank.poolA, b: gatedB }, awaitPhaseTwo: false });
      let gid = '';
      await tm.xa(async (tx) => {
        gid = tx.gid;
        await transfer(bank.poolA, gatedB as Pool, 10)(tx);
      });
      expect((await tm.status(gid))?.state).toBe('committing');
      expect((await bank.prepared()).b).toBe(1);
      open();
      await tm.close();
      expect((await mysqlTxLog(bank.logPool, { table: bank.logTable }).get(gid))?.state).toBe(
        'committed',
      );
      expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
      expect(await bank.balance(bank.poolB, 1)).toBe(OPENING + 10);
    });

    it('keeps the sum of balances constant under 8 concurrent workers, with the log beside A', async () => {
      const tm = manager({
        log: mysqlTxLog(bank.poolA, { table: bank.logTable }),
        awaitPhaseTwo: false,
        timeoutMs: 10_000,
      });
      const committed: string[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 12; i++) {
            const forward = (w + i) % 2 === 0;
            let gid = '';
            await tm
              .xa((tx) => {
                gid = tx.gid;
                return transfer(
                  forward ? bank.poolA : bank.poolB,
                  forward ? bank.poolB : bank.poolA,
                  1 + ((w * 31 + i * 17) % 400),
                  1 + ((w + i) % ACCOUNTS),
                  1 + ((w * 3 + i) % ACCOUNTS),
                )(tx);
              })
              .then(
                () => committed.push(gid),
                (error) => expect(TxAbortedError.isInstance(error)).toBe(true),
              );
          }
        }),
      );
      expect(committed.length).toBeGreaterThan(0);
      await tm.close();
      expect(await bank.total()).toBe(TOTAL);
      expect(await bank.prepared()).toEqual({ a: 0, b: 0 });
      const log = mysqlTxLog(bank.poolA, { table: bank.logTable });
      for (const gid of committed) expect((await log.get(gid))?.state).toBe('committed');
    });
  });
});
