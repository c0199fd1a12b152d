import assert from 'node:assert/strict';
import { LockArgumentError, LockClosedError, LockUnsupportedError } from '../errors.js';
import type { ListedLock, ListOptions } from '../list.js';
import type { LockClient } from '../types.js';
import { eventually, type Kit } from './kit.js';

/** Long enough that no listed lock expires while a test looks at it. */
const HELD_MS = 30_000;

async function listAll(
  client: LockClient,
  prefix: string,
  options?: ListOptions,
): Promise<ListedLock[]> {
  const found: ListedLock[] = [];
  for await (const lock of client.list(prefix, options)) found.push(lock);
  return found;
}

async function keysUnder(client: LockClient, prefix: string): Promise<string[]> {
  return (await listAll(client, prefix)).map((lock) => lock.key).sort();
}

/**
 * `list()` (capability `list`): held keys under a prefix with their public holder, count, token
 * and expiry; the prefix is plain text; expired holds are left out. A backend without the
 * capability refuses with a typed error before any I/O.
 */
export function listSuite(kit: Kit): void {
  const { it } = kit.runner;

  it('lists the holders under a prefix, with public holder, count, token and expiry', async () => {
    const client = await kit.client({ clientId: 'kit-lister' });
    const base = kit.key('ls-basic:');
    if (!kit.capabilities?.list) {
      assert.throws(() => client.list(base), LockUnsupportedError);
      return;
    }
    const plain = await client.acquire(`${base}plain`, { ttlMs: HELD_MS });
    const named = await client.acquire(`${base}named`, {
      ttlMs: HELD_MS,
      owner: 'kit-alice#s3cret-part',
    });
    const first = await client.acquire(`${base}twice`, { ttlMs: HELD_MS, owner: 'kit-bob' });
    const second = await client.acquire(`${base}twice`, { ttlMs: HELD_MS, owner: 'kit-bob' });
    const outside = await client.acquire(kit.key('ls-basic;outside'), { ttlMs: HELD_MS });
    const freed = await client.acquire(`${base}freed`, { ttlMs: HELD_MS });
    await freed.release();

    const before = Date.now();
    const locks = await listAll(client, base);
    const byKey = new Map(locks.map((lock) => [lock.key, lock]));
    assert.deepEqual([...byKey.keys()].sort(), [`${base}named`, `${base}plain`, `${base}twice`]);
    assert.equal(byKey.get(`${base}plain`)?.holder, 'kit-lister');
    assert.equal(byKey.get(`${base}named`)?.holder, 'kit-alice');
    assert.equal(byKey.get(`${base}twice`)?.count, 2);
    assert.equal(byKey.get(`${base}plain`)?.count, 1);
    const text = JSON.stringify(locks, (_k, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v,
    );
    assert.ok(!text.includes('s3cret'), 'a listing must never show an owner token secret');
    for (const [lock, listed] of [
      [plain, byKey.get(`${base}plain`)],
      [named, byKey.get(`${base}named`)],
      [first, byKey.get(`${base}twice`)],
    ] as const) {
      if (listed?.fencingToken !== undefined) assert.equal(listed.fencingToken, lock.fencingToken);
      assert.ok(listed && listed.expiresAt > before, 'a held lock is listed with a future expiry');
      assert.ok(listed.expiresAt <= Date.now() + HELD_MS + 1_000, 'expiry beyond the TTL');
    }
    await Promise.all([plain, named, second, first, outside].map((lock) => lock.release()));
    assert.deepEqual(await keysUnder(client, base), [], 'released locks are not listed');
  });

  it('takes the prefix as plain text: pattern characters match only themselves', async () => {
    if (!kit.capabilities?.list) return;
    const client = await kit.client();
    const base = kit.key('ls-wild:');
    const cases: Array<[prefix: string, listed: string, unlisted: string]> = [
      ['a*', 'a*1', 'ab'],
      ['q?', 'q?x', 'qxx'],
      ['[x]', '[x]y', 'xy'],
      ['p%', 'p%z', 'pzz'],
      ['u_', 'u_1', 'ux1'],
      ['s\\', 's\\1', 's1'],
      ['case', 'case1', 'Case2'],
    ];
    const locks = await Promise.all(
      cases.flatMap(([, listed, unlisted]) =>
        [listed, unlisted].map((name) => client.acquire(`${base}${name}`, { ttlMs: HELD_MS })),
      ),
    );
    try {
      for (const [prefix, listed] of cases) {
        assert.deepEqual(await keysUnder(client, `${base}${prefix}`), [`${base}${listed}`], prefix);
      }
      assert.equal((await keysUnder(client, base)).length, cases.length * 2);
    } finally {
      await Promise.all(locks.map((lock) => lock.release()));
    }
  });

  it(
    'leaves out locks whose lease ran out',
    async () => {
      if (!kit.capabilities?.list) return;
      const [holder, lister] = [await kit.client(), await kit.client()];
      const base = kit.key('ls-expiry:');
      const kept = await holder.acquire(`${base}kept`, { ttlMs: HELD_MS });
      await holder.acquire(`${base}abandoned`, { ttlMs: kit.ttl });
      assert.deepEqual(await keysUnder(lister, base), [`${base}abandoned`, `${base}kept`]);
      await eventually(
        'the expired lock to leave the listing',
        async () => (await keysUnder(lister, base)).length === 1,
        kit.ttl * 20,
      );
      assert.deepEqual(await keysUnder(lister, base), [`${base}kept`]);
      await kept.release();
    },
    kit.timeoutMs,
  );

  it('pages through many keys, each once, and stops at the limit', async () => {
    if (!kit.capabilities?.list) return;
    const client = await kit.client();
    const base = kit.key('ls-pages:');
    const names = Array.from({ length: 7 }, (_, i) => `${base}${i}`);
    const locks = await Promise.all(names.map((k) => client.acquire(k, { ttlMs: HELD_MS })));
    try {
      const paged = (await listAll(client, base, { pageSize: 2 })).map((lock) => lock.key);
      assert.deepEqual([...paged].sort(), names);
      assert.equal((await listAll(client, base, { limit: 3 })).length, 3);
      assert.equal((await listAll(client, base, { limit: 3, pageSize: 1 })).length, 3);
    } finally {
      await Promise.all(locks.map((lock) => lock.release()));
    }
  });

  it('refuses bad arguments and a closed client before any I/O', async () => {
    const client = await kit.client();
    for (const call of [
      () => client.list(42 as never),
      () => client.list('\uD800'),
      () => client.list('x'.repeat(513)),
      () => client.list('x', { limit: 0 }),
      () => client.list('x', { limit: 1.5 }),
      () => client.list('x', { pageSize: 0 }),
      () => client.list('x', { pageSize: 10_001 }),
      () => client.list('x', { bogus: 1 } as never),
    ]) {
      assert.throws(call, LockArgumentError);
    }
    await client.close();
    if (kit.capabilities?.list) assert.throws(() => client.list('x'), LockClosedError);
  });
}
