import { requireMysql } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Barrier, barrier, TxArgumentError } from '../src/index.js';
import { participantDb } from './helpers/shared.js';

const mysql = await requireMysql();

describe.skipIf(!mysql.available)('the sub-transaction barrier (shared MariaDB)', () => {
  let db: Awaited<ReturnType<typeof participantDb>>;
  let b: Barrier;
  let n = 0;
  const gid = () => `test.${Date.now().toString(36)}.${(n++).toString(16).padStart(16, '0')}`;
  const reserve =
    (qty: number) => async (conn: { query: (s: string, v?: unknown[]) => Promise<unknown> }) => {
      await conn.query(
        `UPDATE \`${db.stockTable}\` SET available = available - ?, reserved = reserved + ? WHERE id = 1`,
        [qty, qty],
      );
    };
  const release =
    (qty: number) => async (conn: { query: (s: string, v?: unknown[]) => Promise<unknown> }) => {
      await conn.query(
        `UPDATE \`${db.stockTable}\` SET available = available + ?, reserved = reserved - ? WHERE id = 1`,
        [qty, qty],
      );
    };
  const sell =
    (qty: number) => async (conn: { query: (s: string, v?: unknown[]) => Promise<unknown> }) => {
      await conn.query(
        `UPDATE \`${db.stockTable}\` SET reserved = reserved - ?, sold = sold + ? WHERE id = 1`,
        [qty, qty],
      );
    };

  beforeAll(async () => {
    db = await participantDb('barrier');
    b = barrier(db.pool, { table: db.barrierTable });
  });
  afterAll(async () => {
    await db?.dispose();
  });

  it('runs try once and confirm once, however often they are delivered', async () => {
    const before = await db.stock();
    const g = gid();
    expect((await b.run({ gid: g, branch: '01', op: 'try' }, reserve(2))).outcome).toBe('ran');
    expect((await b.run({ gid: g, branch: '01', op: 'try' }, reserve(2))).outcome).toBe(
      'duplicate',
    );
    expect((await b.run({ gid: g, branch: '01', op: 'confirm' }, sell(2))).outcome).toBe('ran');
    expect((await b.run({ gid: g, branch: '01', op: 'confirm' }, sell(2))).outcome).toBe(
      'duplicate',
    );
    const after = await db.stock();
    expect(after).toEqual({
      available: before.available - 2,
      reserved: before.reserved,
      sold: before.sold + 2,
    });
  });

  it('runs cancel once after a try, however often it is delivered', async () => {
    const before = await db.stock();
    const g = gid();
    await b.run({ gid: g, branch: '01', op: 'try' }, reserve(3));
    expect((await b.run({ gid: g, branch: '01', op: 'cancel' }, release(3))).outcome).toBe('ran');
    expect((await b.run({ gid: g, branch: '01', op: 'cancel' }, release(3))).outcome).toBe(
      'duplicate',
    );
    expect(await db.stock()).toEqual(before);
  });

  it('a cancel without a try is a null compensation, and the late try is blocked (no hanging)', async () => {
    const before = await db.stock();
    const g = gid();
    let released = false;
    const cancel = await b.run({ gid: g, branch: '01', op: 'cancel' }, async (conn) => {
      released = true;
      await release(5)(conn);
    });
    expect(cancel.outcome).toBe('null-compensation');
    expect(released).toBe(false);
    let reserved = false;
    const late = await b.run({ gid: g, branch: '01', op: 'try' }, async (conn) => {
      reserved = true;
      await reserve(5)(conn);
    });
    expect(late.outcome).toBe('blocked');
    expect(reserved).toBe(false);
    expect(await db.stock()).toEqual(before);
  });

  it('concurrent duplicate tries: exactly one runs', async () => {
    const before = await db.stock();
    const g = gid();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => b.run({ gid: g, branch: '01', op: 'try' }, reserve(1))),
    );
    expect(results.filter((r) => r.outcome === 'ran')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'duplicate')).toHaveLength(5);
    expect((await db.stock()).available).toBe(before.available - 1);
  });

  it('a cancel racing its try: the business effect is either both or neither', async () => {
    const before = await db.stock();
    const g = gid();
    const [t, c] = await Promise.all([
      b.run({ gid: g, branch: '01', op: 'try' }, reserve(4)),
      b.run({ gid: g, branch: '01', op: 'cancel' }, release(4)),
    ]);
    expect([
      ['ran', 'ran'],
      ['blocked', 'null-compensation'],
    ]).toContainEqual([t.outcome, c.outcome]);
    expect(await db.stock()).toEqual(before);
  });

  it('a business error rolls the guard back with it and propagates, so the op can be retried', async () => {
    const g = gid();
    const boom = new Error('card declined');
    await expect(
      b.run({ gid: g, branch: '01', op: 'try' }, async (conn) => {
        await reserve(1)(conn);
        throw boom;
      }),
    ).rejects.toBe(boom);
    const before = await db.stock();
    expect((await b.run({ gid: g, branch: '01', op: 'try' }, reserve(1))).outcome).toBe('ran');
    expect((await db.stock()).available).toBe(before.available - 1);
  });

  it('returns what the callback resolves', async () => {
    const r = await b.run({ gid: gid(), branch: '01', op: 'try' }, async () => 42);
    expect(r).toEqual({ outcome: 'ran', value: 42 });
  });

  it('cleanup deletes old rows only', async () => {
    const g = gid();
    await b.run({ gid: g, branch: '01', op: 'try' }, async () => undefined);
    await db.pool.query(
      `UPDATE \`${db.barrierTable}\` SET created_at = NOW(3) - INTERVAL 2 DAY WHERE gid = ?`,
      [g],
    );
    expect(await b.cleanup(24 * 3600_000, { batch: 1 })).toBe(1);
    expect(await b.cleanup(24 * 3600_000)).toBe(0);
    const [rows] = await db.pool.query(`SELECT COUNT(*) AS c FROM \`${db.barrierTable}\``);
    expect(Number((rows as { c: number }[])[0]!.c)).toBeGreaterThan(0);
  });

  it('rejects bad input before any I/O', async () => {
    const noPool = barrier({ getConnection: () => Promise.reject(new Error('no I/O expected')) });
    await expect(noPool.run({ gid: '', branch: '01', op: 'try' }, async () => 1)).rejects.toSatisfy(
      TxArgumentError.isInstance,
    );
    await expect(
      noPool.run({ gid: 'g', branch: '01', op: 'explode' as 'try' }, async () => 1),
    ).rejects.toSatisfy(TxArgumentError.isInstance);
    expect(() => barrier(noPool as never, { table: 'x; DROP TABLE y' })).toThrow(TxArgumentError);
  });
});
