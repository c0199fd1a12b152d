import { requireMysql, SHARED_MYSQL_URL, uniqueName } from '@dlock/test-utils';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdGenArgumentError, IdGenBackendError } from '../src/index.js';
import { mysqlSegment, mysqlTicket } from '../src/mysql.js';
import { analyse, runWorker } from './helpers/processes.js';

const MYSQL_URL = SHARED_MYSQL_URL;
const { available } = await requireMysql(MYSQL_URL);
const PREFIX = uniqueName('t_idgen_');

describe('mysql generators: bad input (no I/O)', () => {
  const pool = {
    getConnection: async () => {
      throw new Error('must not be called');
    },
  };
  it('rejects bad pools, table names, stubs, offsets and steps before any I/O', () => {
    expect(() => mysqlTicket({ pool: {} as never, table: 't' })).toThrow(IdGenArgumentError);
    for (const table of ['', 'a-b', 't; DROP TABLE x', '`t`', 'a.b.c', '1t', 'x'.repeat(65)]) {
      expect(() => mysqlTicket({ pool, table })).toThrow(IdGenArgumentError);
      expect(() => mysqlSegment({ pool, bizTag: 'b', step: 10, table })).toThrow(
        IdGenArgumentError,
      );
    }
    expect(() => mysqlTicket({ pool, table: 't', stub: 'ab' })).toThrow(IdGenArgumentError);
    expect(() => mysqlTicket({ pool, table: 't', increment: 2, offset: 3 })).toThrow(
      IdGenArgumentError,
    );
    expect(() => mysqlTicket({ pool, table: 't', increment: 0 })).toThrow(IdGenArgumentError);
    expect(() => mysqlSegment({ pool, bizTag: 'b', step: 0 })).toThrow(IdGenArgumentError);
    expect(() => mysqlSegment({ pool, bizTag: '', step: 10 })).toThrow(IdGenArgumentError);
    expect(() => mysqlTicket({ pool, table: 'test.id_tickets' })).not.toThrow();
  });
});

describe.skipIf(!available)('mysql generators (real MariaDB/MySQL)', () => {
  let pool: mysql.Pool;
  const tables: string[] = [];
  const table = (suffix: string) => {
    const name = `${PREFIX}${suffix}`;
    tables.push(name);
    return name;
  };

  beforeAll(() => {
    pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 4 });
  });
  afterAll(async () => {
    for (const name of tables) await pool.query(`DROP TABLE IF EXISTS \`${name}\``);
    await pool.end();
  });

  it('mysqlTicket issues increasing bigints, exact above 2^53 with any pool settings', async () => {
    const gen = mysqlTicket({ pool, table: table('ticket') });
    await gen.ensureTable();
    const a = await gen.nextId();
    const b = await gen.nextId();
    expect(b).toBeGreaterThan(a);
    await pool.query(`ALTER TABLE \`${PREFIX}ticket\` AUTO_INCREMENT = 9007199254740993`);
    expect(await gen.nextIdString()).toBe('9007199254740993');
    expect(await gen.nextId()).toBe(9007199254740994n);
    await gen.close();
    // A pool with bigNumberStrings returns the OK packet's insertId as a string: used as is.
    const stringPool = mysql.createPool({
      uri: MYSQL_URL,
      connectionLimit: 1,
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    try {
      const viaStrings = mysqlTicket({ pool: stringPool, table: `${PREFIX}ticket` });
      expect(await viaStrings.nextId()).toBe(9007199254740995n);
    } finally {
      await stringPool.end();
    }
  });

  it('mysqlTicket multi-master: offsets 1 and 2 with increment 2 give odd and even ids; the pool session is restored', async () => {
    const odd = mysqlTicket({ pool, table: table('odd'), increment: 2, offset: 1 });
    const even = mysqlTicket({ pool, table: table('even'), increment: 2, offset: 2 });
    await odd.ensureTable();
    await even.ensureTable();
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? odd : even).nextId()),
    );
    ids.forEach((id, i) => {
      expect(id % 2n).toBe(i % 2 === 0 ? 1n : 0n);
    });
    const [rows] = await pool.query(
      'SELECT @@SESSION.auto_increment_increment AS inc, @@SESSION.auto_increment_offset AS off',
    );
    const [globals] = await pool.query(
      'SELECT @@GLOBAL.auto_increment_increment AS inc, @@GLOBAL.auto_increment_offset AS off',
    );
    expect(rows).toEqual(globals);
  });

  it('mysqlSegment reserves segments in a transaction and creates the bizTag row', async () => {
    const name = table('alloc');
    const gen = mysqlSegment({ pool, bizTag: 'orders', step: 50, table: name, adaptive: false });
    await gen.ensureTable();
    const ids: bigint[] = [];
    for (let i = 0; i < 120; i++) ids.push(await gen.nextId());
    expect(ids[0]).toBe(1n);
    expect(ids[119]).toBe(120n);
    const maxId = async () => {
      const [rows] = await pool.query(
        `SELECT CAST(max_id AS CHAR) AS m FROM \`${name}\` WHERE biz_tag = 'orders'`,
      );
      return (rows as { m: string }[])[0]!.m;
    };
    await gen.close(); // waits for the prefetch of 151..200 if it is still running
    expect(await maxId()).toBe('120'); // unused ids given back on a graceful close
    const restarted = mysqlSegment({ pool, bizTag: 'orders', step: 50, table: name });
    expect(await restarted.nextId()).toBe(121n);
    await restarted.close();
  });

  it('wraps database errors as IdGenBackendError', async () => {
    const gen = mysqlSegment({ pool, bizTag: 'x', step: 10, table: table('missing') });
    const error = await gen.nextId().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdGenBackendError);
    await gen.close();
    const ticket = mysqlTicket({ pool, table: `${PREFIX}missing2` });
    await expect(ticket.nextId()).rejects.toBeInstanceOf(IdGenBackendError);
  });

  it('4 processes x 50,000 ids sharing one bizTag (step 10,000): no duplicate, gaps within one step per process', async () => {
    const name = table('shared');
    const step = 10_000;
    await mysqlSegment({ pool, bizTag: 'shared', step, table: name }).ensureTable();
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => runWorker(['mysqlSegment', '50000', name, String(step)])),
    );
    const all = runs.flat();
    expect(all).toHaveLength(200_000);
    const { duplicates, missing } = analyse(all);
    expect(duplicates).toBe(0);
    expect(missing).toBeLessThanOrEqual(BigInt(step * 4));
  });

  it('4 processes x 5,000 tickets on two multi-master ticket tables: no duplicate', async () => {
    // 5,000 per process rather than 50,000: each ticket is a committed REPLACE (an fsync), and
    // 200,000 of them take minutes; the contract (no duplicate across servers) shows at this size.
    const odd = table('mm_odd');
    const even = table('mm_even');
    await mysqlTicket({ pool, table: odd }).ensureTable();
    await mysqlTicket({ pool, table: even }).ensureTable();
    const runs = await Promise.all([
      runWorker(['mysqlTicket:1', '5000', odd]),
      runWorker(['mysqlTicket:1', '5000', odd]),
      runWorker(['mysqlTicket:2', '5000', even]),
      runWorker(['mysqlTicket:2', '5000', even]),
    ]);
    const all = runs.flat();
    expect(all).toHaveLength(20_000);
    expect(analyse(all).duplicates).toBe(0);
    for (const id of [...runs[0]!, ...runs[1]!])
      if (id % 2n !== 1n) throw new Error(`even id ${id} from the odd server`);
    for (const id of [...runs[2]!, ...runs[3]!])
      if (id % 2n !== 0n) throw new Error(`odd id ${id} from the even server`);
  }, 60_000);
});
