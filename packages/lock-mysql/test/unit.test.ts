import { LockArgumentError } from '@dlock/lock-core';
import { describe, expect, it } from 'vitest';
import type { WriteResult } from '../src/index.js';
import { connectBackend, mysqlBackend, schemaSql } from '../src/index.js';
import { getLockName, MAX_LOCK_NAME_PREFIX, mutexRowName } from '../src/keys.js';
import { decodeAcquireRow } from '../src/sql-acquire-row.js';
import { decodeRelease } from '../src/sql-release.js';
import { quoteTable } from '../src/table-name.js';

const written = (insertId: number | string): WriteResult => ({ affectedRows: 1, insertId });

describe('table names', () => {
  it('quotes valid identifiers and database.table', () => {
    expect(quoteTable('dlock_locks')).toBe('`dlock_locks`');
    expect(quoteTable('app.locks$1')).toBe('`app`.`locks$1`');
  });
  it('rejects anything that could change the statement', () => {
    for (const bad of ['', 'a b', 'a;b', 'a`b', '`a`', 'a.b.c', '1abc', 'a-b', 'x'.repeat(65), 5]) {
      expect(() => quoteTable(bad), String(bad)).toThrow(
        expect.objectContaining({ code: 'DLOCK_ARGUMENT' }),
      );
    }
  });
  it('the DDL uses the quoted name and binary key columns', () => {
    const ddl = schemaSql('app.locks');
    expect(ddl).toContain('CREATE TABLE IF NOT EXISTS `app`.`locks`');
    expect(ddl).toContain('`name` VARBINARY(513) NOT NULL');
    expect(ddl).toContain('PRIMARY KEY (`name`)');
  });
});

describe('GET_LOCK names', () => {
  it('uses short lower-case keys verbatim and hashes everything else into 64 characters', () => {
    expect(getLockName('orders:42', 'dlock:')).toBe('dlock:orders:42');
    for (const key of ['Orders:42', 'é', '🔒', 'x'.repeat(59), 'a b', 'a#b']) {
      const name = getLockName(key, 'dlock:');
      expect(name).toMatch(/^dlock:#[0-9a-f]{48}$/);
    }
    expect(getLockName('x'.repeat(58), 'dlock:')).toBe(`dlock:${'x'.repeat(58)}`);
    expect(getLockName('A', 'p')).not.toBe(getLockName('a', 'p'));
    const longest = getLockName('Z', 'p'.repeat(MAX_LOCK_NAME_PREFIX));
    expect(longest.length).toBe(64);
  });
  it('marks for-update lock rows with a byte that UTF-8 never contains', () => {
    const row = mutexRowName('k€');
    expect(row[0]).toBe(0xff);
    expect(row.subarray(1).toString('utf8')).toBe('k€');
  });
});

describe('decoding LAST_INSERT_ID outcomes', () => {
  it('row acquire: grant (insert or takeover), re-entry, refusal', () => {
    const floor = 1_796_000_000_000_000n; // a token from the server's µs floor
    expect(decodeAcquireRow(written(String(floor * 4n + 1n)), 500)).toEqual({
      acquired: true,
      fencingToken: floor,
      reentered: false,
      ttlMs: 500,
    });
    expect(decodeAcquireRow(written(7 * 4 + 1), 500)).toMatchObject({
      fencingToken: 7n,
      reentered: false,
    });
    expect(decodeAcquireRow(written(7 * 4 + 2), 500)).toMatchObject({
      fencingToken: 7n,
      reentered: true,
    });
    expect(decodeAcquireRow(written(1234 * 4 + 3), 500)).toEqual({
      acquired: false,
      retryAfterMs: 1234,
    });
    // mysql2 may hand big values over as strings.
    expect(decodeAcquireRow(written(String(2n ** 60n * 4n + 1n)), 1)).toMatchObject({
      fencingToken: 2n ** 60n,
    });
  });
  it('release: the count before it', () => {
    expect(decodeRelease(written(0))).toBe('not-held');
    expect(decodeRelease(written(1))).toBe('released');
    expect(decodeRelease(written(3))).toBe('decremented');
  });
});

describe('unknown options', () => {
  const pool = { getConnection: async () => ({}) } as never;

  it('mysqlBackend refuses an unknown option, naming the known ones', () => {
    expect(() => mysqlBackend({ pool, tabel: 'x' } as never)).toThrow(
      /Unknown option "tabel" for mysqlBackend; known options: pool, mode, table, acquireTimeoutMs/,
    );
    expect(() => mysqlBackend({ pool, queryTimeoutMs: 0 })).toThrow(LockArgumentError);
    expect(() => mysqlBackend({ pool, acquireTimeoutMs: 2 ** 31 })).toThrow(LockArgumentError);
  });

  it('connect refuses unknown query parameters and options before any I/O', async () => {
    await expect(connectBackend(new URL('mysql://root@127.0.0.1:1/test?tabel=x'))).rejects.toThrow(
      /unknown URL's query parameter "tabel"; known: mode, table, lockNamePrefix, .*connectionLimit/,
    );
    await expect(
      connectBackend(new URL('mysql://root@127.0.0.1:1/test'), { mod: 'row' }),
    ).rejects.toThrow(/unknown option "mod"; known: mode, table, lockNamePrefix, .*tls$/);
    // A pool of one's own is not a connect() option: connect makes its own.
    await expect(
      connectBackend(new URL('mysql://root@127.0.0.1:1/test'), { pool }),
    ).rejects.toThrow(/unknown option "pool"/);
  });
});
