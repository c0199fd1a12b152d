import { connect, createLockClient, LockBackendError } from '@dlock/lock-core';
import { uniqueName } from '@dlock/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureSchema, type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { createTableHint } from '../src/missing-table.js';
import { schemaStatements } from '../src/schema.js';
import { asPool, dropTables, MYSQL_URL, requireMysql, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();

describe.skipIf(!mysql.available)('a missing lock table', () => {
  const pool = testPool(4);
  afterAll(() => pool.end());

  for (const mode of ['row', 'get-lock', 'for-update'] as MysqlLockMode[]) {
    it(`${mode}: the error says how to create the table, with its name`, async () => {
      const table = uniqueName('dlock_missing_');
      const client = createLockClient(mysqlBackend({ pool: asPool(pool), mode, table }));
      try {
        const error = await client.acquire('k', { waitTimeoutMs: 0 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LockBackendError);
        expect((error as LockBackendError).cause).toMatchObject({ errno: 1146 });
        const message = (error as Error).message;
        expect(message).toContain(`${table}' doesn't exist`);
        expect(message).toContain(`await ensureSchema(pool, { table: '${table}' })`);
        expect(message).toContain(`schemaSql('${table}')`);
        expect(message).toContain(
          `npx @dlock/cli schema 'mysql://user@host/db?table=${table}' --apply`,
        );
      } finally {
        await client.close();
      }
    });
  }

  it('names no table option for the default table', () => {
    expect(createTableHint('dlock_locks')).toContain('await ensureSchema(pool) from');
    expect(createTableHint('dlock_locks')).toContain("schema 'mysql://user@host/db' --apply");
  });

  it('ensureSchema(url) creates the table named by ?table= on its own pool, then ends it', async () => {
    const table = uniqueName('dlock_from_url_');
    const url = new URL(MYSQL_URL);
    url.searchParams.set('table', table);
    try {
      await ensureSchema(url.href);
      await ensureSchema(url); // idempotent
      const client = await connect(url);
      try {
        const lock = await client.acquire('k', { waitTimeoutMs: 0 });
        expect(lock.fencingToken).toBeGreaterThan(0n);
        await lock.release();
      } finally {
        await client.close();
      }
    } finally {
      await dropTables(pool, table);
    }
  });

  it('a shared-key table missing (a lock table made before semaphores) says how to create it', async () => {
    const table = uniqueName('dlock_h_mysql_old_');
    await pool.query(schemaStatements(table)[0]!);
    const backend = mysqlBackend({ pool: asPool(pool), table });
    try {
      const attempt = backend.shared!.tryAcquire({
        key: 'k',
        owner: 'o',
        kind: 'semaphore',
        ttlMs: 1_000,
        limit: 1,
        permits: 1,
        changeLimit: false,
        queue: false,
      });
      await expect(attempt).rejects.toMatchObject({ code: 'DLOCK_BACKEND' });
      await expect(attempt).rejects.toThrow(`ensureSchema(pool, { table: '${table}' })`);
      await ensureSchema(pool, { table }); // creates only what is missing
      expect(await backend.shared!.inspect('semaphore', 'k')).toBeNull();
    } finally {
      await backend.close();
      await dropTables(pool, table);
    }
  });
});
