import { createLockClient, type ListedLock, type LockClient } from '@dlock/lock-core';
import { waitUntil } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlBackend } from '../src/index.js';
import { prefixEnd } from '../src/sql-list.js';
import { asPool, requireMysql, tempTable, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();

async function keys(client: LockClient, prefix: string): Promise<string[]> {
  const found: ListedLock[] = [];
  for await (const lock of client.list(prefix)) found.push(lock);
  return found.map((lock) => lock.key).sort();
}

describe('mysql list: key range', () => {
  it('ends the range after the prefix bytes; the empty prefix stops before 0xFF rows', () => {
    expect(prefixEnd(Buffer.from('ab'))).toEqual(Buffer.from('ac'));
    expect(prefixEnd(Buffer.from('é'))).toEqual(Buffer.from([0xc3, 0xaa]));
    expect(prefixEnd(Buffer.alloc(0))).toEqual(Buffer.from([0xff]));
  });
});

describe.skipIf(!mysql.available)('mysql list in the connection-bound modes', () => {
  const pool = testPool();
  let table = '';
  let drop = async () => {};
  beforeAll(async () => {
    ({ name: table, drop } = await tempTable(pool, 'list'));
  });
  afterAll(async () => {
    await drop();
    await pool.end();
  });

  for (const mode of ['get-lock', 'for-update'] as const) {
    it(`${mode}: a row whose holding connection died is not listed`, async () => {
      const holder = createLockClient(mysqlBackend({ pool: asPool(pool), mode, table }));
      const lister = createLockClient(mysqlBackend({ pool: asPool(pool), mode, table }));
      const prefix = `${mode}:dead:`;
      await holder.acquire(`${prefix}k`, { ttlMs: 30_000 });
      await holder.acquire(`${prefix}kept`, { ttlMs: 30_000 });
      expect(await keys(lister, prefix)).toEqual([`${prefix}k`, `${prefix}kept`]);
      const [rows] = await pool.query(`SELECT \`holder\` FROM \`${table}\` WHERE \`name\` = ?`, [
        Buffer.from(`${prefix}k`),
      ]);
      const id = Number((rows as Array<{ holder: number }>)[0]!.holder);
      await pool.query('KILL CONNECTION ?', [id]);
      // The row still says "held until 30 s from now"; only the server lock is gone.
      await waitUntil(async () => (await keys(lister, prefix)).length === 1, {
        timeoutMs: 10_000,
        message: 'the dead holder to leave the listing',
      });
      expect(await keys(lister, prefix)).toEqual([`${prefix}kept`]);
      await holder.close();
      await lister.close();
    });
  }
});
