import { join } from 'node:path';
import {
  LockBackendError,
  LockClosedError,
  LockLimitError,
  LockUpgradeError,
} from '@dlock/lock-core';
import type {
  AcquireResult,
  LeaseAcquireRequest,
  LeaseKind,
  LockBackend,
  SharedBackend,
} from '@dlock/lock-core/spi';
import { makeTempDir, uniqueName } from '@dlock/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';
import { openRaw, userDatabase } from './helpers/driver.js';

// The SPI rules of SharedBackend on one file, with an injected wall clock (the backend's `clock`
// option) so expiry is stepped, never slept for. Two backends on one file stand for two processes.

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let path: string;
let now = 1_900_000_000_000;
const clock = () => now;
const opened: LockBackend[] = [];

beforeAll(async () => {
  dir = await makeTempDir('dlock-sqlite-shared-');
  path = join(dir.path, 'locks.db');
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((b) => b.close()));
});
afterAll(() => dir.remove());

function open(): SharedBackend {
  const backend = sqliteBackend({ path, clock });
  opened.push(backend);
  return backend.shared!;
}

const TTL = 10_000;

function req(
  key: string,
  owner: string,
  kind: LeaseKind,
  extra: Partial<LeaseAcquireRequest> = {},
): LeaseAcquireRequest {
  return {
    key,
    owner,
    kind,
    ttlMs: TTL,
    limit: 1,
    permits: 1,
    changeLimit: false,
    queue: false,
    ...extra,
  };
}
const sem = (key: string, owner: string, limit: number, extra: Partial<LeaseAcquireRequest> = {}) =>
  req(key, owner, 'semaphore', { limit, ...extra });

function token(result: AcquireResult): bigint {
  if (!result.acquired) throw new Error('expected a grant');
  return result.fencingToken;
}

describe('sqlite shared backend: capabilities', () => {
  it('declares semaphores of any limit and read-write locks, polling, batch renewal', () => {
    expect(open().capabilities).toEqual({
      maxSemaphoreLimit: Number.POSITIVE_INFINITY,
      readWrite: true,
      watch: false,
      nativeWait: false,
      batchExtend: true,
    });
  });
});

describe('sqlite shared backend: semaphore', () => {
  it('grants up to the limit across connections and refuses the next', async () => {
    const [a, b] = [open(), open()];
    const key = uniqueName('sem');
    expect((await a.tryAcquire(sem(key, 'o1', 2))).acquired).toBe(true);
    expect((await b.tryAcquire(sem(key, 'o2', 2))).acquired).toBe(true);
    const refused = await a.tryAcquire(sem(key, 'o3', 2));
    expect(refused).toEqual({ acquired: false, retryAfterMs: TTL + 1 });
    const state = await b.inspect('semaphore', key);
    expect(state?.limit).toBe(2);
    expect(state?.holders.map((h) => h.owner)).toEqual(['o1', 'o2']);
    expect(state?.waiters).toBe(0);
  });

  it('takes several permits atomically or none, and a permits: limit request works', async () => {
    const s = open();
    const key = uniqueName('multi');
    expect((await s.tryAcquire(sem(key, 'a', 10_000, { permits: 9_999 }))).acquired).toBe(true);
    expect((await s.tryAcquire(sem(key, 'b', 10_000, { permits: 2 }))).acquired).toBe(false);
    expect((await s.tryAcquire(sem(key, 'c', 10_000, { permits: 1 }))).acquired).toBe(true);
    const state = await s.inspect('semaphore', key);
    expect(state?.holders.map((h) => [h.owner, h.permits])).toEqual([
      ['a', 9_999],
      ['c', 1],
    ]);
    expect(await s.release({ key, owner: 'a', kind: 'semaphore' })).toBe('released');
    expect(await s.release({ key, owner: 'c', kind: 'semaphore' })).toBe('released');
    expect((await s.tryAcquire(sem(key, 'd', 10_000, { permits: 10_000 }))).acquired).toBe(true);
  });

  it('expires each permit on its own deadline: mixed TTLs never evict one another', async () => {
    const s = open();
    const key = uniqueName('ttl');
    await s.tryAcquire(sem(key, 'long', 2, { ttlMs: 60_000 }));
    await s.tryAcquire(sem(key, 'short', 2, { ttlMs: 1_000 }));
    now += 1_001;
    // the short lease is gone, the long one stays, whoever asks with whatever TTL
    expect((await s.tryAcquire(sem(key, 'new', 2, { ttlMs: 1 }))).acquired).toBe(true);
    expect((await s.tryAcquire(sem(key, 'x', 2))).acquired).toBe(false);
    now += 2;
    const state = await s.inspect('semaphore', key);
    expect(state?.holders.map((h) => h.owner)).toEqual(['long']);
    expect(state?.holders[0]?.ttlMs).toBe(60_000 + 1 - 1_003);
  });

  it('a dead holder permit comes back after its TTL, never before', async () => {
    const s = open();
    const key = uniqueName('dead');
    await s.tryAcquire(sem(key, 'dead', 1, { ttlMs: 5_000 }));
    now += 5_000;
    expect((await s.tryAcquire(sem(key, 'next', 1))).acquired).toBe(false);
    now += 1;
    expect((await s.tryAcquire(sem(key, 'next', 1))).acquired).toBe(true);
    expect(await s.extend({ key, owner: 'dead', kind: 'semaphore', ttlMs: 5_000 })).toBe(false);
  });

  it('re-enters: count up, same token, same permits, expiry never shortened, even when full', async () => {
    const s = open();
    const key = uniqueName('reenter');
    const first = token(await s.tryAcquire(sem(key, 'a', 2, { permits: 2, ttlMs: 30_000 })));
    now += 1_000;
    const again = await s.tryAcquire(sem(key, 'a', 2, { permits: 2, ttlMs: 1_000 }));
    expect(again).toEqual({ acquired: true, fencingToken: first, reentered: true, ttlMs: 29_000 });
    const state = await s.inspect('semaphore', key);
    expect(state?.holders).toEqual([
      { kind: 'semaphore', owner: 'a', permits: 2, count: 2, ttlMs: 29_001, fencingToken: first },
    ]);
    expect(await s.release({ key, owner: 'a', kind: 'semaphore' })).toBe('decremented');
    expect(await s.release({ key, owner: 'a', kind: 'semaphore' })).toBe('released');
  });

  it('double release and release after expiry are not-held and never raise availability', async () => {
    const s = open();
    const key = uniqueName('double');
    await s.tryAcquire(sem(key, 'a', 2));
    await s.tryAcquire(sem(key, 'b', 2, { ttlMs: 100 }));
    expect(await s.release({ key, owner: 'a', kind: 'semaphore' })).toBe('released');
    expect(await s.release({ key, owner: 'a', kind: 'semaphore' })).toBe('not-held');
    now += 101;
    expect(await s.release({ key, owner: 'b', kind: 'semaphore' })).toBe('not-held');
    expect(await s.release({ key, owner: 'never', kind: 'semaphore' })).toBe('not-held');
    await s.tryAcquire(sem(key, 'c', 2));
    await s.tryAcquire(sem(key, 'd', 2));
    expect((await s.tryAcquire(sem(key, 'e', 2))).acquired).toBe(false);
  });

  it('stores the limit: a different one is LockLimitError and changes nothing, changeLimit stores it', async () => {
    const s = open();
    const key = uniqueName('limit');
    await s.tryAcquire(sem(key, 'a', 2));
    const error = await s.tryAcquire(sem(key, 'b', 3)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLimitError);
    expect(error).toMatchObject({ storedLimit: 2, requestedLimit: 3, key });
    expect((await s.inspect('semaphore', key))?.holders).toHaveLength(1);
    expect((await s.tryAcquire(sem(key, 'b', 3, { changeLimit: true }))).acquired).toBe(true);
    expect((await s.inspect('semaphore', key))?.limit).toBe(3);
    await expect(s.tryAcquire(sem(key, 'c', 2))).rejects.toBeInstanceOf(LockLimitError);
    // a key nobody holds or waits for has no limit: the next caller's is taken
    await s.release({ key, owner: 'a', kind: 'semaphore' });
    await s.release({ key, owner: 'b', kind: 'semaphore' });
    expect(await s.inspect('semaphore', key)).toBeNull();
    expect((await s.tryAcquire(sem(key, 'c', 5))).acquired).toBe(true);
    expect((await s.inspect('semaphore', key))?.limit).toBe(5);
  });

  it('a limit left by holders that all expired binds nobody', async () => {
    const s = open();
    const key = uniqueName('stale-limit');
    await s.tryAcquire(sem(key, 'a', 2, { ttlMs: 10 }));
    now += 11;
    expect((await s.tryAcquire(sem(key, 'b', 7))).acquired).toBe(true);
  });
});

describe('sqlite shared backend: waiter queue', () => {
  it('is strict FIFO: a queued permits: limit request is not starved by single permits', async () => {
    const [a, b] = [open(), open()];
    const key = uniqueName('fifo');
    await a.tryAcquire(sem(key, 'holder', 4));
    const big = await b.tryAcquire(sem(key, 'big', 4, { permits: 4, queue: true }));
    expect(big.acquired).toBe(false);
    // room for one permit, but the big request arrived first
    expect((await a.tryAcquire(sem(key, 'small', 4, { queue: true }))).acquired).toBe(false);
    expect((await a.tryAcquire(sem(key, 'try', 4))).acquired).toBe(false);
    expect((await a.inspect('semaphore', key))?.waiters).toBe(2);
    await a.release({ key, owner: 'holder', kind: 'semaphore' });
    // the second in line still waits for the head
    expect((await a.tryAcquire(sem(key, 'small', 4, { queue: true }))).acquired).toBe(false);
    expect((await b.tryAcquire(sem(key, 'big', 4, { permits: 4, queue: true }))).acquired).toBe(
      true,
    );
    expect((await a.inspect('semaphore', key))?.waiters).toBe(1);
    await b.release({ key, owner: 'big', kind: 'semaphore' });
    expect((await a.tryAcquire(sem(key, 'small', 4, { queue: true }))).acquired).toBe(true);
    expect((await a.inspect('semaphore', key))?.waiters).toBe(0);
  });

  it('refuses a queued request with retryAfterMs at most a third of its waiter lease', async () => {
    const s = open();
    const key = uniqueName('retry');
    await s.tryAcquire(sem(key, 'holder', 1, { ttlMs: 60_000 }));
    const queued = await s.tryAcquire(sem(key, 'w', 1, { ttlMs: 3_000, queue: true }));
    expect(queued).toEqual({ acquired: false, retryAfterMs: 1_000 });
    // a single attempt hears when something next changes: here the queue entry ahead of it
    const tried = await s.tryAcquire(sem(key, 't', 1, { ttlMs: 3_000 }));
    expect(tried).toEqual({ acquired: false, retryAfterMs: 3_001 });
    await s.abandon({ key, owner: 'w', kind: 'semaphore' });
    expect(await s.tryAcquire(sem(key, 't', 1))).toEqual({ acquired: false, retryAfterMs: 60_001 });
  });

  it('a dead waiter delays the queue by at most its waiter lease; a refresh keeps its place', async () => {
    const s = open();
    const key = uniqueName('dead-waiter');
    await s.tryAcquire(sem(key, 'holder', 1, { ttlMs: 60_000 }));
    await s.tryAcquire(sem(key, 'first', 1, { ttlMs: 3_000, queue: true }));
    await s.tryAcquire(sem(key, 'second', 1, { ttlMs: 3_000, queue: true }));
    await s.release({ key, owner: 'holder', kind: 'semaphore' });
    now += 2_000;
    // second refreshes its entry, first does not: first is still ahead until its lease runs out
    expect(
      (await s.tryAcquire(sem(key, 'second', 1, { ttlMs: 3_000, queue: true }))).acquired,
    ).toBe(false);
    now += 1_001;
    expect(
      (await s.tryAcquire(sem(key, 'second', 1, { ttlMs: 3_000, queue: true }))).acquired,
    ).toBe(true);
  });

  it('refreshes a waiter entry only when less than two re-check intervals are left', async () => {
    const s = open();
    const key = uniqueName('refresh');
    const entryExpiry = () => {
      const raw = openRaw(path);
      try {
        return raw
          .prepare<[string], { expires_at: number }>(
            'SELECT expires_at FROM dlock_shared_waiters WHERE name = ?',
          )
          .get(key)?.expires_at;
      } finally {
        raw.close();
      }
    };
    await s.tryAcquire(sem(key, 'holder', 1, { ttlMs: 60_000 }));
    const wait = sem(key, 'w', 1, { ttlMs: 3_000, queue: true });
    await s.tryAcquire(wait);
    const first = Number(entryExpiry());
    now += 999; // 2002 ms left: more than two re-checks (2 x 1000 + 1), no write
    expect(await s.tryAcquire(wait)).toEqual({ acquired: false, retryAfterMs: 1_000 });
    expect(Number(entryExpiry())).toBe(first);
    now += 1; // 2001 left: refreshed to a full waiter lease
    await s.tryAcquire(wait);
    expect(Number(entryExpiry())).toBe(now + 3_001);
  });

  it('abandon removes the entry (idempotent), never a lease, and lets the next in', async () => {
    const s = open();
    const key = uniqueName('abandon');
    await s.tryAcquire(sem(key, 'holder', 2));
    await s.tryAcquire(sem(key, 'w', 2, { permits: 2, queue: true }));
    expect((await s.tryAcquire(sem(key, 'x', 2, { queue: true }))).acquired).toBe(false);
    expect(await s.abandon({ key, owner: 'w', kind: 'semaphore' })).toBe(true);
    expect(await s.abandon({ key, owner: 'w', kind: 'semaphore' })).toBe(false);
    expect(await s.abandon({ key, owner: 'holder', kind: 'semaphore' })).toBe(false);
    expect((await s.tryAcquire(sem(key, 'x', 2, { queue: true }))).acquired).toBe(true);
    expect((await s.inspect('semaphore', key))?.holders.map((h) => h.owner)).toEqual([
      'holder',
      'x',
    ]);
  });

  it('abort while queued leaves nothing behind', async () => {
    const s = open();
    const key = uniqueName('abort');
    await s.tryAcquire(sem(key, 'holder', 1));
    await s.tryAcquire(sem(key, 'w', 1, { queue: true }));
    await s.release({ key, owner: 'holder', kind: 'semaphore' });
    await s.abandon({ key, owner: 'w', kind: 'semaphore' });
    expect(await s.inspect('semaphore', key)).toBeNull();
    const raw = openRaw(path);
    try {
      for (const table of ['dlock_shared_keys', 'dlock_shared_leases', 'dlock_shared_waiters']) {
        const row = raw
          .prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE name = ?`)
          .get(key);
        expect(row?.n, table).toBe(0);
      }
    } finally {
      raw.close();
    }
  });

  it('keeps the stored limit while only waiters remain', async () => {
    const s = open();
    const key = uniqueName('waiting-limit');
    await s.tryAcquire(sem(key, 'holder', 1));
    await s.tryAcquire(sem(key, 'w', 1, { queue: true }));
    await s.release({ key, owner: 'holder', kind: 'semaphore' });
    expect(await s.inspect('semaphore', key)).toEqual({
      key,
      limit: 1,
      holders: [],
      waiters: 1,
    });
    await expect(s.tryAcquire(sem(key, 'y', 3))).rejects.toBeInstanceOf(LockLimitError);
  });
});

describe('sqlite shared backend: read-write lock', () => {
  it('readers share, a writer excludes everyone', async () => {
    const [a, b] = [open(), open()];
    const key = uniqueName('rw');
    expect((await a.tryAcquire(req(key, 'r1', 'read'))).acquired).toBe(true);
    expect((await b.tryAcquire(req(key, 'r2', 'read'))).acquired).toBe(true);
    expect((await b.tryAcquire(req(key, 'w', 'write'))).acquired).toBe(false);
    await a.release({ key, owner: 'r1', kind: 'read' });
    await b.release({ key, owner: 'r2', kind: 'read' });
    expect((await b.tryAcquire(req(key, 'w', 'write'))).acquired).toBe(true);
    expect((await a.tryAcquire(req(key, 'r1', 'read'))).acquired).toBe(false);
    expect((await a.tryAcquire(req(key, 'w2', 'write'))).acquired).toBe(false);
    const state = await a.inspect('read-write', key);
    expect(state?.limit).toBe(Number.POSITIVE_INFINITY);
    expect(state?.holders.map((h) => [h.kind, h.owner])).toEqual([['write', 'w']]);
  });

  it('a queued writer stops new readers; existing readers re-enter', async () => {
    const s = open();
    const key = uniqueName('writer-pref');
    await s.tryAcquire(req(key, 'r1', 'read'));
    expect((await s.tryAcquire(req(key, 'w', 'write', { queue: true }))).acquired).toBe(false);
    expect((await s.tryAcquire(req(key, 'r2', 'read', { queue: true }))).acquired).toBe(false);
    expect((await s.tryAcquire(req(key, 'r1', 'read'))).acquired).toBe(true); // re-entry
    await s.release({ key, owner: 'r1', kind: 'read' });
    await s.release({ key, owner: 'r1', kind: 'read' });
    expect((await s.tryAcquire(req(key, 'r2', 'read', { queue: true }))).acquired).toBe(false);
    expect((await s.tryAcquire(req(key, 'w', 'write', { queue: true }))).acquired).toBe(true);
  });

  it('each reader expires on its own while another keeps renewing', async () => {
    const s = open();
    const key = uniqueName('reader-ttl');
    await s.tryAcquire(req(key, 'crashed', 'read', { ttlMs: 1_000 }));
    await s.tryAcquire(req(key, 'alive', 'read', { ttlMs: 1_000 }));
    expect((await s.tryAcquire(req(key, 'w', 'write', { queue: true }))).acquired).toBe(false);
    now += 900;
    expect(await s.extend({ key, owner: 'alive', kind: 'read', ttlMs: 1_000 })).toBe(true);
    now += 101;
    expect((await s.inspect('read-write', key))?.holders.map((h) => h.owner)).toEqual(['alive']);
    expect(await s.release({ key, owner: 'alive', kind: 'read' })).toBe('released');
    expect((await s.tryAcquire(req(key, 'w', 'write', { queue: true }))).acquired).toBe(true);
  });

  it('downgrade: a writer takes the read lock at once, past queued writers; releasing the write leaves the read', async () => {
    const s = open();
    const key = uniqueName('downgrade');
    const write = token(await s.tryAcquire(req(key, 'w', 'write')));
    expect((await s.tryAcquire(req(key, 'w2', 'write', { queue: true }))).acquired).toBe(false);
    const read = await s.tryAcquire(req(key, 'w', 'read', { queue: true }));
    expect(read).toEqual({ acquired: true, fencingToken: write, reentered: false, ttlMs: TTL });
    expect(await s.release({ key, owner: 'w', kind: 'write' })).toBe('released');
    // the queued writer cannot slip in while the downgraded read is held
    expect((await s.tryAcquire(req(key, 'w2', 'write', { queue: true }))).acquired).toBe(false);
    expect((await s.inspect('read-write', key))?.holders.map((h) => [h.kind, h.owner])).toEqual([
      ['read', 'w'],
    ]);
    // a writer re-entering while it also reads is a re-entry, not an upgrade
    await s.release({ key, owner: 'w', kind: 'read' });
    expect((await s.tryAcquire(req(key, 'w2', 'write', { queue: true }))).acquired).toBe(true);
    await s.tryAcquire(req(key, 'w2', 'read'));
    expect((await s.tryAcquire(req(key, 'w2', 'write'))).acquired).toBe(true);
  });

  it('upgrade is LockUpgradeError at once and changes nothing', async () => {
    const s = open();
    const key = uniqueName('upgrade');
    await s.tryAcquire(req(key, 'r', 'read'));
    await expect(s.tryAcquire(req(key, 'r', 'write', { queue: true }))).rejects.toBeInstanceOf(
      LockUpgradeError,
    );
    expect(await s.inspect('read-write', key)).toMatchObject({ waiters: 0 });
    expect((await s.inspect('read-write', key))?.holders).toHaveLength(1);
  });

  it('fencing: writes take new tokens above every earlier grant, reads carry the last write token', async () => {
    const s = open();
    const key = uniqueName('rw-fence');
    const r0 = token(await s.tryAcquire(req(key, 'r0', 'read')));
    await s.release({ key, owner: 'r0', kind: 'read' });
    const w1 = token(await s.tryAcquire(req(key, 'w', 'write')));
    expect(w1).toBeGreaterThan(r0);
    await s.release({ key, owner: 'w', kind: 'write' });
    const r1 = token(await s.tryAcquire(req(key, 'r1', 'read')));
    const r2 = token(await s.tryAcquire(req(key, 'r2', 'read')));
    expect(r1).toBeGreaterThanOrEqual(w1);
    expect(r2).toBe(r1);
    await s.release({ key, owner: 'r1', kind: 'read' });
    await s.release({ key, owner: 'r2', kind: 'read' });
    const w2 = token(await s.tryAcquire(req(key, 'w', 'write')));
    expect(w2).toBeGreaterThan(r2);
  });

  it('semaphore, read-write and mutex keys of one name never see one another', async () => {
    const backend = sqliteBackend({ path, clock });
    opened.push(backend);
    const s = backend.shared!;
    const key = uniqueName('namespaces');
    expect((await backend.tryAcquire({ key, owner: 'm', ttlMs: TTL })).acquired).toBe(true);
    expect((await s.tryAcquire(sem(key, 's', 1))).acquired).toBe(true);
    expect((await s.tryAcquire(req(key, 'w', 'write'))).acquired).toBe(true);
    expect(await backend.inspect(key)).toMatchObject({ owner: 'm' });
  });
});

describe('sqlite shared backend: fencing, renewal, operator tools, close', () => {
  it('semaphore tokens strictly increase over all grants, also after every lease expired and a lost counter', async () => {
    const s = open();
    const key = uniqueName('fence');
    const t1 = token(await s.tryAcquire(sem(key, 'a', 2, { ttlMs: 10 })));
    const t2 = token(await s.tryAcquire(sem(key, 'b', 2, { ttlMs: 10 })));
    expect(t2).toBeGreaterThan(t1);
    now += 11;
    const t3 = token(await s.tryAcquire(sem(key, 'c', 2)));
    expect(t3).toBeGreaterThan(t2);
    const raw = openRaw(path);
    try {
      raw.prepare('UPDATE dlock_fencing SET last_token = 0 WHERE id = 1').run();
    } finally {
      raw.close();
    }
    const t4 = token(await s.tryAcquire(sem(key, 'd', 2)));
    expect(t4).toBeGreaterThan(t3);
  });

  it('extendMany renews each lease in one transaction and reports lost ones', async () => {
    const s = open();
    const key = uniqueName('many');
    await s.tryAcquire(sem(key, 'a', 3, { ttlMs: 1_000 }));
    await s.tryAcquire(req(key, 'r', 'read', { ttlMs: 1_000 }));
    await s.tryAcquire(sem(key, 'gone', 3, { ttlMs: 100 }));
    now += 500;
    expect(
      await s.extendMany!([
        { key, owner: 'a', kind: 'semaphore', ttlMs: 5_000 },
        { key, owner: 'r', kind: 'read', ttlMs: 5_000 },
        { key, owner: 'gone', kind: 'semaphore', ttlMs: 5_000 },
        { key, owner: 'a', kind: 'read', ttlMs: 5_000 },
      ]),
    ).toEqual([true, true, false, false]);
    expect((await s.inspect('semaphore', key))?.holders[0]?.ttlMs).toBe(5_001);
    // a lease's renewal never re-creates it
    expect((await s.inspect('semaphore', key))?.holders).toHaveLength(1);
  });

  it('forceRelease deletes every lease and queue entry and keeps tokens growing', async () => {
    const s = open();
    const key = uniqueName('force');
    const t1 = token(await s.tryAcquire(req(key, 'w', 'write')));
    await s.tryAcquire(req(key, 'r', 'read', { queue: true }));
    expect(await s.forceRelease!('read-write', key)).toBe(true);
    expect(await s.inspect('read-write', key)).toBeNull();
    expect(await s.forceRelease!('read-write', key)).toBe(false);
    expect(await s.extend({ key, owner: 'w', kind: 'write', ttlMs: TTL })).toBe(false);
    expect(await s.release({ key, owner: 'w', kind: 'write' })).toBe('not-held');
    const r = token(await s.tryAcquire(req(key, 'r', 'read')));
    expect(r).toBeGreaterThan(t1);
  });

  it('rejects every call with LockClosedError after close, and close is idempotent', async () => {
    const backend = sqliteBackend({ path, clock });
    const s = backend.shared!;
    await backend.close();
    await backend.close();
    const key = uniqueName('closed');
    const calls = [
      s.tryAcquire(sem(key, 'a', 1)),
      s.extend({ key, owner: 'a', kind: 'semaphore', ttlMs: TTL }),
      s.extendMany!([{ key, owner: 'a', kind: 'semaphore', ttlMs: TTL }]),
      s.release({ key, owner: 'a', kind: 'semaphore' }),
      s.abandon({ key, owner: 'a', kind: 'semaphore' }),
      s.inspect('semaphore', key),
      s.forceRelease!('semaphore', key),
    ];
    for (const call of calls) await expect(call).rejects.toBeInstanceOf(LockClosedError);
  });

  it('a driver failure is LockBackendError with the cause', async () => {
    const user = userDatabase(join(dir.path, 'user.db'));
    const backend = sqliteBackend({ database: user.db as never, clock });
    user.close();
    const error = await backend.shared!.tryAcquire(sem('k', 'a', 1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockBackendError);
    expect((error as Error).cause).toBeDefined();
    await backend.close();
  });

  it('adds its tables to a file made before them, and sweeps dead leases at open', async () => {
    const old = join(dir.path, 'old.db');
    const raw = openRaw(old);
    raw.exec(`CREATE TABLE dlock_locks (key TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL,
      count INTEGER NOT NULL, fencing_token INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE dlock_fencing (id INTEGER PRIMARY KEY CHECK (id = 1), last_token INTEGER NOT NULL);
      INSERT INTO dlock_fencing VALUES (1, 0);`);
    raw.close();
    const first = sqliteBackend({ path: old, clock });
    expect((await first.shared!.tryAcquire(sem('k', 'dead', 1, { ttlMs: 10 }))).acquired).toBe(
      true,
    );
    await first.close();
    now += 11;
    const second = sqliteBackend({ path: old, clock });
    await second.close();
    const check = openRaw(old);
    try {
      const n = (table: string) =>
        check.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).get()!.n;
      expect([n('dlock_shared_keys'), n('dlock_shared_leases')]).toEqual([0, 0]);
    } finally {
      check.close();
    }
  });
});
