import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LockArgumentError, LockBackendError, LockClosedError } from '@dlock/lock-core';
import { makeTempDir } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBackend, defaultDatabasePath, sqliteBackend } from '../src/index.js';
import { chooseDriver } from '../src/open-database.js';
import { driver, openRaw, userDatabase } from './helpers/driver.js';

let dir: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  dir = await makeTempDir('dlock-sqlite-unit-');
});
afterAll(() => dir.remove());

const request = (key: string, owner: string, ttlMs = 10_000) => ({ key, owner, ttlMs });

describe('sqliteBackend', () => {
  it('rejects bad options with LockArgumentError before touching the file', () => {
    const bad: unknown[] = [
      { path: '' },
      { path: 5 },
      { tablePrefix: 'x; DROP TABLE y' },
      { tablePrefix: '1abc' },
      { busyTimeoutMs: -1 },
      { busyTimeoutMs: 1.5 },
      { synchronous: 'off' },
      { clock: 5 },
      { database: {} },
      { pathh: 'typo.db' },
      { path: 'a.db', database: userDatabase(':memory:').db },
      { driver: 'sqlite3' },
      { driver: 'node:sqlite', database: userDatabase(':memory:').db },
    ];
    for (const options of bad) {
      expect(() => sqliteBackend(options as object), JSON.stringify(options)).toThrow(
        LockArgumentError,
      );
    }
  });

  it('opens files with the driver under test; a bad DLOCK_SQLITE_DRIVER is a LockArgumentError', () => {
    expect(chooseDriver(undefined)).toBe(
      process.getBuiltinModule?.('node:sqlite') ? 'node:sqlite' : 'better-sqlite3',
    );
    expect(openRaw(':memory:').driver).toBe(driver);
    const previous = process.env.DLOCK_SQLITE_DRIVER;
    process.env.DLOCK_SQLITE_DRIVER = 'sqlite3';
    try {
      expect(() => sqliteBackend({ path: ':memory:' })).toThrow(/DLOCK_SQLITE_DRIVER/);
    } finally {
      if (previous === undefined) delete process.env.DLOCK_SQLITE_DRIVER;
      else process.env.DLOCK_SQLITE_DRIVER = previous;
    }
  });

  it('keeps fencing tokens increasing across force-release, expiry and reopening the file', async () => {
    const path = join(dir.path, 'fencing.db');
    let now = 1_000;
    const a = sqliteBackend({ path, clock: () => now });
    const first = await a.tryAcquire(request('k', 'a'));
    expect(first).toMatchObject({ acquired: true, reentered: false });
    expect(await a.forceRelease!('k')).toBe(true);
    expect(await a.forceRelease!('k')).toBe(false);
    const second = await a.tryAcquire(request('k', 'b', 100));
    now += 101;
    expect(await a.inspect('k')).toBeNull();
    const third = await a.tryAcquire(request('k', 'c'));
    await a.close();
    const b = sqliteBackend({ path, clock: () => now });
    await b.release({ key: 'k', owner: 'c' });
    const fourth = await b.tryAcquire(request('k', 'd'));
    await b.close();
    const tokens = [first, second, third, fourth].map((r) => (r.acquired ? r.fencingToken : -1n));
    expect(tokens).toEqual([...tokens].sort((x, y) => (x < y ? -1 : 1)));
    expect(new Set(tokens).size).toBe(4);
  });

  it('keeps tokens increasing when the file goes back to an older copy (lost commits, a restored backup)', async () => {
    const path = join(dir.path, 'restored.db');
    const backup = join(dir.path, 'restored-backup.db');
    const grant = async (key: string) => {
      const backend = sqliteBackend({ path, synchronous: 'normal' });
      try {
        const got = await backend.tryAcquire(request(key, 'o'));
        expect(await backend.release({ key, owner: 'o' })).toBe('released');
        return got.acquired ? got.fencingToken : -1n;
      } finally {
        await backend.close();
      }
    };
    const before = Date.now();
    const first = await grant('k');
    // The floor: the system clock in µs, whatever the expiry clock.
    expect(first).toBeGreaterThanOrEqual(BigInt(before) * 1000n);
    copyFileSync(path, backup);
    const lost = [await grant('k'), await grant('other')];
    // The commits after the copy are lost, as an OS crash under synchronous 'normal' can lose them.
    copyFileSync(backup, path);
    for (const suffix of ['-wal', '-shm']) rmSync(path + suffix, { force: true });
    const raw = openRaw(path);
    const row = raw.prepare('SELECT last_token FROM dlock_fencing').safeIntegers(true).get() as {
      last_token: bigint;
    };
    raw.close();
    expect(row.last_token).toBe(first);
    const after = await grant('k');
    expect(after).toBeGreaterThan(lost[0]!);
    expect(after).toBeGreaterThan(lost[1]!);
  });

  it('expires by the shared wall clock: never before the TTL, and re-entry never shortens it', async () => {
    let now = 5_000;
    const backend = sqliteBackend({ path: ':memory:', clock: () => now });
    await backend.tryAcquire(request('k', 'a', 1_000));
    const again = await backend.tryAcquire(request('k', 'a', 10));
    expect(again).toMatchObject({ acquired: true, reentered: true });
    expect(again.acquired && again.ttlMs).toBeGreaterThanOrEqual(1_000);
    now += 1_000;
    expect(await backend.tryAcquire(request('k', 'b'))).toMatchObject({ acquired: false });
    expect((await backend.inspect('k'))?.count).toBe(2);
    now += 1;
    expect(await backend.inspect('k')).toBeNull();
    expect(await backend.extend(request('k', 'a'))).toBe(false);
    expect(await backend.release({ key: 'k', owner: 'a' })).toBe('not-held');
    expect(await backend.tryAcquire(request('k', 'b'))).toMatchObject({ acquired: true });
    await backend.close();
  });

  it('extends many locks in one transaction, owner-checked', async () => {
    const backend = sqliteBackend({ path: ':memory:' });
    await backend.tryAcquire(request('x', 'a'));
    await backend.tryAcquire(request('y', 'a'));
    expect(
      await backend.extendMany!([request('x', 'a'), request('y', 'b'), request('z', 'a')]),
    ).toEqual([true, false, false]);
    await backend.close();
  });

  it('leaves a database it was given open, and rejects calls after close()', async () => {
    const database = userDatabase(':memory:');
    const backend = sqliteBackend({ database: database.db as never, tablePrefix: 'app_' });
    await backend.tryAcquire(request('k', 'a'));
    await backend.close();
    await backend.close();
    expect(database.isOpen()).toBe(true);
    expect(database.count('SELECT count(*) AS n FROM app_locks')).toBe(1);
    await expect(backend.inspect('k')).rejects.toSatisfy(LockClosedError.isInstance);
    database.close();
  });

  it('reports a file it cannot open as LockBackendError', () => {
    expect(() => sqliteBackend({ path: join(dir.path, 'no-such-dir\0', 'x.db') })).toThrow();
    expect(() => sqliteBackend({ path: dir.path })).toThrow(LockBackendError);
  });
});

describe('connectBackend', () => {
  it('opens relative, absolute and default paths and reads options from the query', async () => {
    const absolute = join(dir.path, 'abs.db');
    for (const url of [
      `sqlite:${absolute}`,
      `sqlite://${absolute}`,
      `sqlite://localhost${absolute}`,
    ]) {
      const backend = await connectBackend(new URL(url));
      expect(await backend.tryAcquire(request(url, 'a'))).toMatchObject({ acquired: true });
      await backend.close();
    }
    const withQuery = await connectBackend(
      new URL(`sqlite:${absolute}?tablePrefix=q_&busyTimeoutMs=100&synchronous=normal`),
    );
    await withQuery.close();
    await expect(connectBackend(new URL('sqlite://example.com/x.db'))).rejects.toThrow(
      LockArgumentError,
    );
    await expect(connectBackend(new URL(`sqlite:${absolute}?prefix=x`))).rejects.toThrow(
      /unknown URL's query parameter "prefix"; known: tablePrefix, busyTimeoutMs, synchronous/,
    );
    await expect(connectBackend(new URL('redis://x'))).rejects.toThrow(LockArgumentError);
  });

  it('uses DLOCK_SQLITE_PATH, else the host-wide /var/tmp/dlock/locks.db, for sqlite:', async () => {
    expect(defaultDatabasePath({ DLOCK_SQLITE_PATH: '/x/y.db' })).toBe('/x/y.db');
    // Not per user: neither the home nor the cache folder of whoever runs it.
    const elsewhere = { HOME: '/home/someone', XDG_CACHE_HOME: '/cache', LOCALAPPDATA: 'C:\\x' };
    expect(defaultDatabasePath(elsewhere)).toBe(
      process.platform === 'win32' ? join('C:\\x', 'dlock', 'locks.db') : '/var/tmp/dlock/locks.db',
    );
    const previous = process.env.DLOCK_SQLITE_PATH;
    process.env.DLOCK_SQLITE_PATH = join(dir.path, 'default.db');
    try {
      const backend = await connectBackend(new URL('sqlite:'));
      await backend.tryAcquire(request('k', 'a'));
      await backend.close();
      const check = openRaw(join(dir.path, 'default.db'));
      expect(check.prepare('SELECT owner FROM dlock_locks').all()).toEqual([{ owner: 'a' }]);
      check.close();
    } finally {
      if (previous === undefined) delete process.env.DLOCK_SQLITE_PATH;
      else process.env.DLOCK_SQLITE_PATH = previous;
    }
  });
});
