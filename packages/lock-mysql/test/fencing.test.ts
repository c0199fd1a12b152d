import { createPool, type Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { asPool, MYSQL_URL, requireMysql, tempTable, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();
const MODES: MysqlLockMode[] = ['row', 'for-update', 'get-lock'];

/** A pool whose sessions run in `zone`: the tokens' floor must not depend on it. */
function poolInZone(zone: string): Pool {
  const pool = createPool({ uri: MYSQL_URL, connectionLimit: 4, maxIdle: 2 });
  pool.pool.on('connection', (connection) => {
    connection.query(`SET time_zone = '${zone}'`);
  });
  return pool;
}

describe.skipIf(!mysql.available)('mysql fencing tokens: floored at the server time in µs', () => {
  const admin = testPool(2);
  const pools = [poolInZone('+13:00'), poolInZone('-12:00')];
  let table = '';
  let drop = async () => {};
  beforeAll(async () => {
    ({ name: table, drop } = await tempTable(admin, 'fencing'));
  });
  afterAll(async () => {
    await drop();
    await Promise.all([admin, ...pools].map((p) => p.end()));
  });

  /** The server's epoch µs, from UNIX_TIMESTAMP() (which no session time zone changes). */
  async function serverMicros(): Promise<bigint> {
    const [rows] = await admin.query(
      'SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS UNSIGNED) AS us',
    );
    return BigInt((rows as Array<{ us: number | string }>)[0]!.us);
  }

  it('runs the test pools in their own session time zones', async () => {
    const [rows] = await pools[0]!.query('SELECT @@session.time_zone AS tz');
    expect((rows as Array<{ tz: string }>)[0]!.tz).toBe('+13:00');
  });

  it("the README's resource-side UPDATE refuses an equal or older token (bigint parameters)", async () => {
    const resource = `${table}_orders`;
    await admin.query(
      `CREATE TABLE \`${resource}\` (id INT PRIMARY KEY, state VARCHAR(20), fence BIGINT UNSIGNED NOT NULL DEFAULT 0)`,
    );
    try {
      await admin.query(`INSERT INTO \`${resource}\` (id, state) VALUES (42, 'new')`);
      const backend = mysqlBackend({ pool: asPool(admin), mode: 'row', table });
      const stale = await backend.tryAcquire({ key: 'orders:42', owner: 'a', ttlMs: 5_000 });
      await backend.forceRelease!('orders:42');
      const fresh = await backend.tryAcquire({ key: 'orders:42', owner: 'b', ttlMs: 5_000 });
      await backend.close();
      if (!stale.acquired || !fresh.acquired) throw new Error('not granted');
      const write = async (state: string, token: bigint) => {
        const [result] = await admin.query(
          `UPDATE \`${resource}\` SET state = ?, fence = ? WHERE id = ? AND fence < ?`,
          [state, token, 42, token],
        );
        return (result as { affectedRows: number }).affectedRows;
      };
      expect(await write('paid', fresh.fencingToken)).toBe(1);
      expect(await write('paid again', fresh.fencingToken)).toBe(0);
      expect(await write('stale', stale.fencingToken)).toBe(0);
      const [rows] = await admin.query(
        `SELECT state, CAST(fence AS CHAR) AS fence FROM \`${resource}\``,
      );
      expect(rows).toEqual([{ state: 'paid', fence: String(fresh.fencingToken) }]);
    } finally {
      await admin.query(`DROP TABLE IF EXISTS \`${resource}\``);
    }
  });

  for (const mode of MODES) {
    it(`${mode}: tokens from sessions in +13:00 and -12:00 increase, and a lost row restarts at the server's time`, async () => {
      const key = `${mode}:zones`;
      const backends = pools.map((pool) => mysqlBackend({ pool: asPool(pool), mode, table }));
      try {
        const tokens: bigint[] = [];
        const before = await serverMicros();
        for (let i = 0; i < 4; i++) {
          const backend = backends[i % 2]!;
          if (i === 2) {
            await admin.query(`DELETE FROM \`${table}\` WHERE \`name\` = ?`, [Buffer.from(key)]);
          }
          const got = await backend.tryAcquire({ key, owner: `o${i}`, ttlMs: 5_000 });
          if (!got.acquired) throw new Error('not granted');
          tokens.push(got.fencingToken);
          expect(await backend.release({ key, owner: `o${i}` })).toBe('released');
        }
        const after = await serverMicros();
        for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
        // A fresh key's token and the one after the row was lost are the server's µs (an hour
        // or more off if the session's zone leaked in).
        for (const i of [0, 2]) {
          expect(tokens[i]!).toBeGreaterThanOrEqual(before);
          expect(tokens[i]!).toBeLessThanOrEqual(after);
        }
      } finally {
        await Promise.all(backends.map((b) => b.close()));
      }
    });
  }
});
