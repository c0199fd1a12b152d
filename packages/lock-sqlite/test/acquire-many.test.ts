import { join } from 'node:path';
import type { AcquireRequest } from '@dlock/lock-core/spi';
import { makeTempDir } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';
import { openRaw } from './helpers/driver.js';

let dir: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  dir = await makeTempDir('dlock-sqlite-many-');
});
afterAll(() => dir.remove());

const request = (key: string, owner: string, ttlMs = 10_000): AcquireRequest => ({
  key,
  owner,
  ttlMs,
});

describe('sqlite tryAcquireMany', () => {
  it('grants every key in one transaction, each with its own fresh token, as tryAcquire would', async () => {
    const backend = sqliteBackend({ path: ':memory:' });
    expect(backend.manyGroup).toBeUndefined();
    expect(backend.capabilities.maxManyKeys).toBeGreaterThanOrEqual(64);
    const results = await backend.tryAcquireMany!(['a', 'b', 'c'].map((k) => request(k, 'o')));
    expect(results.map((r) => r.acquired && !r.reentered)).toEqual([true, true, true]);
    const tokens = results.map((r) => (r.acquired ? r.fencingToken : 0n));
    expect(new Set(tokens).size).toBe(3);
    expect((await backend.inspect('b'))?.fencingToken).toBe(tokens[1]);
    // A later single grant still gets a larger token: the many-keys grants used the same counter.
    await backend.release({ key: 'a', owner: 'o' });
    const later = await backend.tryAcquire(request('a', 'p'));
    expect(later.acquired && later.fencingToken > tokens[2]!).toBe(true);
    await backend.close();
  });

  it('re-enters the keys the owner holds (same token, count plus one) beside fresh grants', async () => {
    let now = 1_000;
    const backend = sqliteBackend({ path: ':memory:', clock: () => now });
    const held = await backend.tryAcquire(request('a', 'o', 5_000));
    now += 1_000;
    const [a, b] = await backend.tryAcquireMany!([request('a', 'o', 1_000), request('b', 'o')]);
    expect(a).toEqual({
      acquired: true,
      reentered: true,
      fencingToken: held.acquired && held.fencingToken,
      ttlMs: 4_000,
    });
    expect(b).toMatchObject({ acquired: true, reentered: false });
    expect((await backend.inspect('a'))?.count).toBe(2);
    await backend.close();
  });

  it('refuses all when one key is held by another owner, and never writes the free keys', async () => {
    const path = join(dir.path, 'refused.db');
    let now = 1_000;
    const holder = sqliteBackend({ path, clock: () => now });
    const asker = sqliteBackend({ path, clock: () => now });
    await holder.tryAcquire(request('b', 'holder', 2_000));
    await asker.tryAcquire(request('c', 'asker'));
    const raw = openRaw(path);
    const snapshot = () =>
      raw.prepare('SELECT * FROM dlock_locks ORDER BY key').safeIntegers(true).all();
    const counter = () =>
      raw.prepare('SELECT last_token FROM dlock_fencing').safeIntegers(true).get();
    const before = [snapshot(), counter()];
    const results = await asker.tryAcquireMany!([
      request('a', 'asker'),
      request('b', 'asker'),
      request('c', 'asker'),
    ]);
    expect(results).toEqual([
      { acquired: false, retryAfterMs: undefined },
      { acquired: false, retryAfterMs: 2_001 },
      { acquired: false, retryAfterMs: undefined },
    ]);
    // Nothing changed: no row for 'a', no re-entry of 'c', no token drawn.
    expect([snapshot(), counter()]).toEqual(before);
    // An expired holder counts as free.
    now += 2_001;
    const after = await asker.tryAcquireMany!([request('a', 'asker'), request('b', 'asker')]);
    expect(after.map((r) => r.acquired)).toEqual([true, true]);
    expect((await holder.inspect('b'))?.owner).toBe('asker');
    raw.close();
    await holder.close();
    await asker.close();
  });

  it('is atomic between connections: two overlapping sets never both win', async () => {
    const path = join(dir.path, 'race.db');
    const one = sqliteBackend({ path });
    const two = sqliteBackend({ path });
    for (let round = 0; round < 20; round++) {
      const keys = [`r${round}-a`, `r${round}-b`, `r${round}-c`];
      const [x, y] = await Promise.all([
        one.tryAcquireMany!(keys.map((k) => request(k, 'one'))),
        two.tryAcquireMany!([...keys].reverse().map((k) => request(k, 'two'))),
      ]);
      const wins = [x, y].filter((results) => results.every((r) => r.acquired));
      expect(wins).toHaveLength(1);
      const owners = await Promise.all(keys.map(async (k) => (await one.inspect(k))?.owner));
      expect(new Set(owners).size).toBe(1);
    }
    await one.close();
    await two.close();
  });
});
