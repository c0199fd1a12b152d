import { type LockBackend, LockClosedError } from '@dlock/lock-core';
import type { AcquireRequest, AcquireResult } from '@dlock/lock-core/spi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { asPool, requireMysql, tempTable, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();

/** Distinct keys in canonical order (UTF-8 bytes), as the core sends them. */
function canonical(keys: readonly string[]): string[] {
  return [...new Set(keys)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

const requests = (keys: readonly string[], owner: string, ttlMs = 30_000): AcquireRequest[] =>
  canonical(keys).map((key) => ({ key, owner, ttlMs }));

describe.skipIf(!mysql.available)('mysql tryAcquireMany', () => {
  const pool = testPool();
  let table = '';
  let drop = async () => {};
  const backends: LockBackend[] = [];
  const make = (mode: MysqlLockMode = 'row'): LockBackend => {
    const backend = mysqlBackend({ pool: asPool(pool), mode, table });
    backends.push(backend);
    return backend;
  };
  /** The lock table's row of `key` as stored (`undefined`: no row). */
  const row = async (key: string) => {
    const [rows] = await pool.query(
      `SELECT \`owner\`, \`count\`, CAST(\`fencing\` AS CHAR) AS \`fencing\`, \`expires_at\` FROM \`${table}\` WHERE \`name\` = ?`,
      [Buffer.from(key, 'utf8')],
    );
    return (rows as Record<string, unknown>[])[0];
  };
  const releaseAll = async (backend: LockBackend, list: readonly AcquireRequest[]) => {
    for (const r of list) await backend.release(r);
  };

  beforeAll(async () => {
    ({ name: table, drop } = await tempTable(pool, 'many'));
  });
  afterAll(async () => {
    await Promise.allSettled(backends.map((b) => b.close()));
    await drop();
    await pool.end();
  });

  it('exists in row mode only; the connection-bound modes leave several keys to the core', () => {
    const row = make('row');
    expect(typeof row.tryAcquireMany).toBe('function');
    expect(row.capabilities.maxManyKeys).toBe(64);
    expect(row.manyGroup).toBeUndefined();
    for (const mode of ['get-lock', 'for-update'] as const) {
      expect(make(mode).tryAcquireMany, mode).toBeUndefined();
    }
  });

  it('grants every key, each with its own token as tryAcquire would give it', async () => {
    const backend = make();
    const set = requests(['all:c', 'all:a', 'all:b'], 'owner-1');
    const results = await backend.tryAcquireMany!(set);
    expect(results.map((r) => r.acquired)).toEqual([true, true, true]);
    const tokens = results.map((r) => (r.acquired ? r.fencingToken : -1n));
    expect(new Set(tokens).size).toBe(3);
    for (const [i, r] of set.entries()) {
      expect(results[i]).toMatchObject({ reentered: false, ttlMs: 30_000 });
      expect(await backend.inspect(r.key)).toMatchObject({
        owner: 'owner-1',
        count: 1,
        fencingToken: tokens[i],
      });
    }
    await releaseAll(backend, set);
    // Released keys carry on from their counters, as after a single tryAcquire.
    const again = await backend.tryAcquireMany!(set);
    for (const [i, r] of again.entries()) {
      expect(r.acquired && r.fencingToken > tokens[i]!).toBe(true);
    }
    await releaseAll(backend, set);
  });

  it('refuses all when one key is held, and leaves the free keys untouched', async () => {
    const [a, b] = [make(), make()];
    // free:1 has a row (released earlier), free:3 has none, held:2 is held by someone else.
    const used = await a.tryAcquire({ key: 'free:1', owner: 'earlier', ttlMs: 30_000 });
    expect(await a.release({ key: 'free:1', owner: 'earlier' })).toBe('released');
    expect(await a.tryAcquire({ key: 'held:2', owner: 'holder', ttlMs: 60_000 })).toMatchObject({
      acquired: true,
    });
    const before = await row('free:1');
    const set = requests(['free:1', 'held:2', 'free:3'], 'contender');
    const results = await b.tryAcquireMany!(set);
    expect(results.every((r) => !r.acquired)).toBe(true);
    const byKey = new Map(set.map((r, i) => [r.key, results[i]!]));
    const refused = byKey.get('held:2')!;
    expect(refused.acquired).toBe(false);
    if (!refused.acquired) {
      expect(refused.retryAfterMs).toBeGreaterThan(30_000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
    // Free keys were not taken and given back: no token spent, no row created.
    // Refused keys carry the holder's remaining TTL; the free ones none.
    expect(byKey.get('free:1')).toEqual({ acquired: false });
    expect(byKey.get('free:3')).toEqual({ acquired: false });
    expect(await row('free:1')).toEqual(before);
    expect(await row('free:3')).toBeUndefined();
    expect((await b.inspect('held:2'))?.owner).toBe('holder');
    // The key that was free is still free for a plain tryAcquire, with the next token.
    const next = await b.tryAcquire({ key: 'free:1', owner: 'later', ttlMs: 30_000 });
    expect(used.acquired && next.acquired && next.fencingToken > used.fencingToken).toBe(true);
    expect(await b.release({ key: 'free:1', owner: 'later' })).toBe('released');
    expect(await a.release({ key: 'held:2', owner: 'holder' })).toBe('released');
  });

  it('re-enters keys its owner holds and takes expired ones, as tryAcquire does', async () => {
    const [a, b] = [make(), make()];
    const held = await a.tryAcquire({ key: 'mix:own', owner: 'me', ttlMs: 30_000 });
    expect(await b.tryAcquire({ key: 'mix:expired', owner: 'gone', ttlMs: 30_000 })).toMatchObject({
      acquired: true,
    });
    await pool.query(
      `UPDATE \`${table}\` SET \`expires_at\` = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE \`name\` = ?`,
      [Buffer.from('mix:expired', 'utf8')],
    );
    const set = requests(['mix:own', 'mix:expired', 'mix:new'], 'me');
    const results = await a.tryAcquireMany!(set);
    const byKey = new Map(set.map((r, i) => [r.key, results[i]!]));
    expect(byKey.get('mix:own')).toMatchObject({
      acquired: true,
      reentered: true,
      fencingToken: held.acquired ? held.fencingToken : -1n,
    });
    expect(byKey.get('mix:expired')).toMatchObject({ acquired: true, reentered: false });
    expect(byKey.get('mix:new')).toMatchObject({ acquired: true, reentered: false });
    expect((await a.inspect('mix:own'))?.count).toBe(2);
    expect((await a.inspect('mix:expired'))?.owner).toBe('me');
    expect(await b.release({ key: 'mix:expired', owner: 'gone' })).toBe('not-held');
    await releaseAll(a, [...set, { key: 'mix:own', owner: 'me', ttlMs: 1 }]);
    expect(await a.inspect('mix:own')).toBeNull();
  });

  // READ COMMITTED takes no gap locks on missing rows: a key can then be taken between the check
  // and the grant, which the grant statement notices (the whole attempt rolls back).
  for (const isolation of ['REPEATABLE READ', 'READ COMMITTED'] as const) {
    it(`never grants a key to two owners, and never fails, under overlapping sets from many callers (${isolation})`, async () => {
      const own = testPool(8);
      own.on('connection', (connection) => {
        connection.query(`SET SESSION TRANSACTION ISOLATION LEVEL ${isolation}`);
      });
      const callers = Array.from({ length: 6 }, () => {
        const backend = mysqlBackend({ pool: asPool(own), mode: 'row', table });
        backends.push(backend);
        return backend;
      });
      const holders = new Map<string, string>();
      const violations: string[] = [];
      let granted = 0;
      const rounds = 25;
      try {
        await Promise.all(
          callers.map(async (backend, c) => {
            for (let round = 0; round < rounds; round++) {
              // Fresh keys every few rounds: their rows are missing, so gap locks meet too.
              const base = `race:${isolation}:${Math.floor(round / 5)}:`;
              const keys = [0, 1, 2, 3]
                .filter((k) => (k + c + round) % 4 !== 0)
                .map((k) => base + k);
              const owner = `caller-${c}-${round}`;
              const set = requests(keys, owner);
              const results: AcquireResult[] = await backend.tryAcquireMany!(set);
              const all = results.every((r) => r.acquired);
              const none = results.every((r) => !r.acquired);
              expect(all || none, 'all-or-nothing').toBe(true);
              if (!all) continue;
              granted++;
              for (const { key } of set) {
                if (holders.has(key)) violations.push(`${key}: ${holders.get(key)} and ${owner}`);
                holders.set(key, owner);
              }
              await new Promise((resolve) => setImmediate(resolve));
              for (const { key } of set) holders.delete(key);
              await releaseAll(backend, set);
            }
          }),
        );
      } finally {
        await Promise.all(callers.map((backend) => backend.close()));
        await own.end();
      }
      expect(violations).toEqual([]);
      expect(granted).toBeGreaterThan(0);
    });
  }

  it('works with SQL metacharacters, LIKE wildcards and non-ASCII keys', async () => {
    const backend = make();
    const keys = canonical([
      '%',
      '_',
      "'; DROP TABLE x; --",
      '\\',
      'ключ',
      '🔒'.repeat(100),
      'Case',
      'case',
    ]);
    const set = requests(keys, 'tricky');
    const results = await backend.tryAcquireMany!(set);
    expect(results.every((r) => r.acquired)).toBe(true);
    for (const key of keys) expect((await backend.inspect(key))?.owner).toBe('tricky');
    expect(await backend.inspect('%x')).toBeNull();
    await releaseAll(backend, set);
  });

  it('refuses once closed, before any I/O', async () => {
    const backend = make();
    await backend.close();
    await expect(backend.tryAcquireMany!(requests(['closed:a'], 'x'))).rejects.toBeInstanceOf(
      LockClosedError,
    );
    expect(await row('closed:a')).toBeUndefined();
  });
});
