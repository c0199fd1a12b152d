import { requireMysql, SHARED_MYSQL_URL, uniqueName } from '@dlock/test-utils';
import { createConnection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/exit-codes.js';
import { main } from '../src/main.js';
import { captureIo } from './capture-io.js';

const mysql = await requireMysql();

async function dlock(...argv: string[]) {
  const io = captureIo({ PATH: process.env.PATH });
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('dlock schema', () => {
  it('refuses what has no schema, before any I/O', async () => {
    for (const [argv, message] of [
      [['schema', 'redis://127.0.0.1:6379'], 'only MySQL/MariaDB needs a lock table'],
      [['schema', 'sqlite:./x.db'], 'only MySQL/MariaDB needs a lock table'],
      [['schema', 'not a url'], 'is not a URL'],
      [['schema', 'mysql://h/db?table=bad-name'], 'table must be an identifier'],
      [['schema', 'mysql://h/db', '--url', 'mysql://h/db'], 'give the URL once'],
    ] as const) {
      const result = await dlock(...argv);
      expect(result.code, argv.join(' ')).toBe(EXIT.USAGE);
      expect(result.err, argv.join(' ')).toContain(message);
    }
  });

  it('prints the DDL of the table the URL names, with no server', async () => {
    const result = await dlock('schema', 'mysql://admin@db.invalid/app?table=locks');
    expect(result.code).toBe(EXIT.OK);
    expect(result.out).toMatch(/^CREATE TABLE IF NOT EXISTS `locks` \(\n/);
    expect(result.out.trimEnd()).toMatch(/\) ENGINE=InnoDB;$/);
  });

  describe.skipIf(!mysql.available)('on MariaDB', () => {
    it('--apply creates the table; status then works, and before it said how', async () => {
      const table = uniqueName('dlock_cli_schema_');
      const url = new URL(SHARED_MYSQL_URL);
      url.searchParams.set('table', table);
      try {
        const before = await dlock('status', 'k', '--url', url.href);
        expect(before.code).toBe(EXIT.BACKEND);
        expect(before.err).toContain(
          `the lock table does not exist yet: create it once with dlock schema '${url.href}' --apply`,
        );
        const applied = await dlock('schema', url.href, '--apply');
        expect(applied).toMatchObject({ code: EXIT.OK, out: '' });
        expect(applied.err).toContain(`the lock table ${table} exists`);
        expect((await dlock('schema', url.href, '--apply')).code).toBe(EXIT.OK); // idempotent
        expect(await dlock('status', 'k', '--url', url.href)).toMatchObject({
          code: EXIT.NEGATIVE,
          out: 'k: free\n',
        });
      } finally {
        const connection = await createConnection(SHARED_MYSQL_URL);
        // --apply also made the tables of semaphores, read-write locks and elections beside it.
        const beside = ['_shared', '_leases', '_waiters', '_elections'];
        for (const name of [table, ...beside.map((suffix) => table + suffix)]) {
          await connection.query(`DROP TABLE IF EXISTS \`${name}\``);
        }
        await connection.end();
      }
    });
  });
});
