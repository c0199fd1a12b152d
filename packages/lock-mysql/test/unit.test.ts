import { describe, expect, it } from 'vitest';
import type { WriteResult } from '../src/index.js';
import { schemaSql } from '../src/index.js';
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
