import {
  connect,
  createLockClient,
  type LockBackend,
  LockError,
  LockLostError,
} from '@dlock/lock-core';
import { waitUntil } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBackend, ensureSchema, type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { getLockName } from '../src/keys.js';
import { asPool, MYSQL_URL, requireMysql, tempTable, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();
const MODES: MysqlLockMode[] = ['row', 'get-lock', 'for-update'];

/** Keys the brief calls out: LIKE wildcards, escapes, quotes, SQL, non-ASCII, case and accents. */
const TRICKY_KEYS = [
  '%',
  '_',
  'a%b_c',
  '\\',
  '\\\\%\\_',
  "'",
  '"',
  '`',
  "\\'; DROP TABLE dlock_locks; --",
  '0x41',
  'NULL',
  '\u0000nul',
  'ключ 鎖 ünïcödé',
  '🔒'.repeat(128),
];

describe.skipIf(!mysql.available)('mysql backend (SPI level)', () => {
  const pool = testPool();
  let table = '';
  let drop = async () => {};
  const backends: LockBackend[] = [];
  const make = (mode: MysqlLockMode): LockBackend => {
    const backend = mysqlBackend({ pool: asPool(pool), mode, table });
    backends.push(backend);
    return backend;
  };
  beforeAll(async () => {
    ({ name: table, drop } = await tempTable(pool, 'spi'));
  });
  afterAll(async () => {
    await Promise.allSettled(backends.map((b) => b.close()));
    await drop();
    await pool.end();
  });

  it('ensureSchema is idempotent', async () => {
    await ensureSchema(asPool(pool), { table });
    await ensureSchema(asPool(pool), { table });
  });

  for (const mode of MODES) {
    describe(mode, () => {
      it('keeps keys that differ only in case, accents or trailing spaces apart', async () => {
        const [a, b] = [make(mode), make(mode)];
        const groups = [
          ['case', 'CASE', 'Case'],
          ['e', 'é', 'É', 'e\u0301'],
          ['pad', 'pad ', 'pad  '],
          ['ss', 'ß'],
        ];
        for (const group of groups) {
          const keys = group.map((k) => `${mode}:distinct:${k}`);
          for (const [i, key] of keys.entries()) {
            const got = await a.tryAcquire({ key, owner: `owner-${i}`, ttlMs: 10_000 });
            expect(got.acquired, `${JSON.stringify(key)} was taken by a look-alike`).toBe(true);
          }
          for (const [i, key] of keys.entries()) {
            expect((await b.inspect(key))?.owner).toBe(`owner-${i}`);
            expect(await b.release({ key, owner: `owner-${i}` })).toBe('released');
          }
        }
      });

      it('works and stays exclusive with SQL metacharacters, LIKE wildcards and non-ASCII keys', async () => {
        const [a, b] = [make(mode), make(mode)];
        for (const name of TRICKY_KEYS) {
          const key = `${mode}:${name}`.slice(0, 200);
          const first = await a.tryAcquire({ key, owner: 'tricky-a', ttlMs: 10_000 });
          expect(first.acquired, JSON.stringify(key)).toBe(true);
          const second = await b.tryAcquire({ key, owner: 'tricky-b', ttlMs: 10_000 });
          expect(second.acquired, `no exclusion for ${JSON.stringify(key)}`).toBe(false);
          // A wildcard key must not match other rows: the neighbours stay free.
          expect(await b.inspect(`${key}x`)).toBeNull();
          const state = await b.inspect(key);
          expect(state).toMatchObject({ key, owner: 'tricky-a', count: 1 });
          expect(await b.release({ key, owner: 'tricky-a' })).toBe('released');
          const third = await b.tryAcquire({ key, owner: 'tricky-b', ttlMs: 10_000 });
          expect(third.acquired).toBe(true);
          if (first.acquired && third.acquired) {
            expect(third.fencingToken).toBeGreaterThan(first.fencingToken);
          }
          expect(await a.release({ key, owner: 'tricky-b' })).toBe('released');
        }
      });

      it('reports the holder’s remaining TTL on refusal, and re-entry never shortens the lease', async () => {
        const [a, b] = [make(mode), make(mode)];
        const key = `${mode}:retry-after`;
        await a.tryAcquire({ key, owner: 'holder', ttlMs: 60_000 });
        const refused = await b.tryAcquire({ key, owner: 'other', ttlMs: 1_000 });
        expect(refused.acquired).toBe(false);
        if (!refused.acquired) {
          expect(refused.retryAfterMs).toBeGreaterThan(30_000);
          expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
        }
        const again = await a.tryAcquire({ key, owner: 'holder', ttlMs: 1_000 });
        expect(again).toMatchObject({ acquired: true, reentered: true });
        const state = await b.inspect(key);
        expect(state?.count).toBe(2);
        expect(state?.ttlMs).toBeGreaterThan(30_000);
        expect(await a.release({ key, owner: 'holder' })).toBe('decremented');
        expect(await a.release({ key, owner: 'holder' })).toBe('released');
        expect(await a.release({ key, owner: 'holder' })).toBe('not-held');
        expect(await b.inspect(key)).toBeNull();
      });

      it('keeps fencing tokens increasing across backends, pools and released rows', async () => {
        const key = `${mode}:fencing-restart`;
        const tokens: bigint[] = [];
        for (let i = 0; i < 3; i++) {
          // A new pool each round: nothing in this process remembers the last token.
          const own = testPool(4);
          const backend = mysqlBackend({ pool: asPool(own), mode, table });
          const got = await backend.tryAcquire({ key, owner: `round-${i}`, ttlMs: 5_000 });
          expect(got.acquired).toBe(true);
          if (got.acquired) tokens.push(got.fencingToken);
          expect(await backend.release({ key, owner: `round-${i}` })).toBe('released');
          await backend.close();
          await own.end();
        }
        expect(tokens[1]! > tokens[0]! && tokens[2]! > tokens[1]!).toBe(true);
      });

      it('forceRelease frees the key whoever holds it; the holder learns it; tokens keep increasing', async () => {
        const key = `${mode}:force`;
        const holder = createLockClient(make(mode), { ttlMs: 600 });
        const operator = createLockClient(make(mode), { ttlMs: 600 });
        const lock = await holder.acquire(key, { autoExtend: true });
        expect(await operator.forceRelease(key)).toBe(true);
        const next = await operator.acquire(key, { waitTimeoutMs: 0 });
        expect(next.fencingToken).toBeGreaterThan(lock.fencingToken);
        await waitUntil(() => lock.signal.aborted, { timeoutMs: 5_000, message: 'holder told' });
        expect(LockLostError.isInstance(lock.signal.reason)).toBe(true);
        expect(await next.release()).toBe(true);
        expect(await operator.forceRelease(key)).toBe(false);
        await holder.close();
        await operator.close();
      });

      it('connectBackend (connect("mysql://…")) builds a backend that owns and ends its pool', async () => {
        const url = new URL(MYSQL_URL);
        url.searchParams.set('mode', mode);
        url.searchParams.set('table', table);
        url.searchParams.set('acquireTimeoutMs', '3000');
        url.searchParams.set('connectionLimit', '3');
        const sockets = () =>
          process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
        const before = sockets();
        // What connect(url) does once it has resolved this package.
        const client = createLockClient(await connectBackend(url, {}), { ttlMs: 5_000 });
        const lock = await client.acquire(`${mode}:via-connect`);
        expect((await client.inspect(`${mode}:via-connect`))?.count).toBe(1);
        expect(await lock.release()).toBe(true);
        await client.close();
        // The pool it created is ended: its sockets close (the shared test pool's may linger).
        await waitUntil(() => sockets() <= before, { message: 'sockets closed', timeoutMs: 2_000 });
      });
    });
  }

  it('hashes GET_LOCK names that are not short lower-case ASCII, and uses short ones verbatim', async () => {
    const backend = make('get-lock');
    const long = `get-lock:${'x'.repeat(100)}`;
    for (const key of ['plain:key-1', 'Upper', long, 'ключ']) {
      const got = await backend.tryAcquire({ key, owner: 'named', ttlMs: 5_000 });
      expect(got.acquired).toBe(true);
      const name = getLockName(key, 'dlock:');
      expect(name.length).toBeLessThanOrEqual(64);
      const [rows] = await pool.query('SELECT IS_USED_LOCK(?) IS NOT NULL AS used', [name]);
      expect((rows as { used: number }[])[0]?.used).toBe(1);
      expect(await backend.release({ key, owner: 'named' })).toBe('released');
    }
    expect(getLockName('plain:key-1', 'dlock:')).toBe('dlock:plain:key-1');
    expect(getLockName('Upper', 'dlock:')).toMatch(/^dlock:#[0-9a-f]{48}$/);
  });

  it('rejects bad options before any I/O', () => {
    const bad: unknown[] = [
      undefined,
      {},
      { pool: {} },
      { pool: asPool(pool), mode: 'table' },
      { pool: asPool(pool), table: 'locks; DROP TABLE x' },
      { pool: asPool(pool), table: '`locks`' },
      { pool: asPool(pool), table: 'a.b.c' },
      { pool: asPool(pool), table: '' },
      { pool: asPool(pool), table: 'x'.repeat(65) },
      { pool: asPool(pool), acquireTimeoutMs: 0 },
      { pool: asPool(pool), queryTimeoutMs: 1.5 },
      { pool: asPool(pool), lockNamePrefix: 'Upper:' },
      { pool: asPool(pool), lockNamePrefix: 'much-too-long-prefix' },
      { pool: asPool(pool), ttl: 5 },
    ];
    for (const [i, options] of bad.entries()) {
      expect(() => mysqlBackend(options as never), `bad options #${i}`).toThrow(
        expect.objectContaining({ code: 'DLOCK_ARGUMENT' }),
      );
    }
    expect(() => mysqlBackend({ pool: asPool(pool), table: 'test.dlock_locks' })).not.toThrow();
  });

  it('asks for the promise pool when given mysql2’s callback pool', () => {
    const callbackPool = { getConnection() {}, promise() {} };
    expect(() => mysqlBackend({ pool: callbackPool as never })).toThrow(/pool\.promise\(\)/);
  });

  it('close() leaves the pool it was given open', async () => {
    const backend = mysqlBackend({ pool: asPool(pool), mode: 'get-lock', table });
    await backend.tryAcquire({ key: 'left-open', owner: 'o', ttlMs: 5_000 });
    await backend.close();
    await backend.close();
    const [rows] = await pool.query('SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
    // The hold the backend could not hand back was dropped with its connection.
    // (The server notices the closed socket a moment later.)
    const other = make('get-lock');
    await waitUntil(async () => (await other.inspect('left-open')) === null, {
      message: 'the dropped hold is gone',
    });
  });

  it('connect("mysql://…") from lock-core finds this package and works', async () => {
    const url = new URL(MYSQL_URL);
    url.searchParams.set('mode', 'get-lock');
    url.searchParams.set('table', table);
    const client = await connect(url.href, { ttlMs: 5_000 });
    const lock = await client.acquire('via-connect');
    expect(await client.inspect('via-connect')).toMatchObject({ count: 1 });
    await lock.release();
    await client.close();
  });

  it('connectBackend rejects a URL of another scheme', async () => {
    await expect(connectBackend(new URL('redis://127.0.0.1'), {})).rejects.toSatisfy((e) =>
      LockError.isInstance(e),
    );
  });

  it('the client exposes backend failures as LockBackendError with the driver error as cause', async () => {
    const backend = mysqlBackend({ pool: asPool(pool), table: 'dlock_missing_table_xyz' });
    const client = createLockClient(backend);
    const error = await client.acquire('k').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'DLOCK_BACKEND', backend: 'mysql' });
    expect((error as Error).cause).toMatchObject({ errno: 1146 });
    await client.close();
  });
});
