import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CampaignRequest, ElectionBackend, LockBackend } from '@dlock/lock-core/spi';
import { makeTempDir } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';
import { openRaw } from './helpers/driver.js';

let dir: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  dir = await makeTempDir('dlock-sqlite-election-');
});
afterAll(() => dir.remove());

const campaign = (
  key: string,
  owner: string,
  overrides: Partial<CampaignRequest> = {},
): CampaignRequest => ({
  key,
  owner,
  ttlMs: 10_000,
  value: `v-${owner}`,
  queue: false,
  ...overrides,
});

const term = (result: Awaited<ReturnType<ElectionBackend['campaign']>>): bigint => {
  if (!result.acquired) throw new Error('expected a grant');
  return result.fencingToken;
};

/** A backend on a fake clock, with its election operations. */
function open(path: string, clock?: () => number): { backend: LockBackend; e: ElectionBackend } {
  const backend = sqliteBackend({ path, ...(clock ? { clock } : {}) });
  return { backend, e: backend.election! };
}

describe('sqlite elections', () => {
  it('keeps one row per name in <prefix>elections: the leader with its value, and only the term once it resigned', async () => {
    const path = join(dir.path, 'layout.db');
    const { backend, e } = open(path);
    const grant = await e.campaign(campaign('svc', 'a', { value: 'host-a:80' }));
    const raw = openRaw(path);
    const row = () =>
      raw
        .prepare('SELECT owner, value, count, term FROM dlock_elections WHERE name = ?')
        .safeIntegers(true)
        .get('svc');
    expect(row()).toEqual({ owner: 'a', value: 'host-a:80', count: 1n, term: term(grant) });
    expect(await e.resign({ key: 'svc', owner: 'a' })).toBe('released');
    expect(row()).toEqual({ owner: null, value: null, count: 0n, term: term(grant) });
    expect(await e.leader('svc')).toBeNull();
    raw.close();
    await backend.close();
  });

  it('is a namespace of its own: election "x", lock "x" and semaphore "x" never see one another', async () => {
    const { backend, e } = open(':memory:');
    expect(await backend.tryAcquire({ key: 'x', owner: 'l', ttlMs: 10_000 })).toMatchObject({
      acquired: true,
    });
    expect(
      await backend.shared!.tryAcquire({
        key: 'x',
        owner: 's',
        kind: 'semaphore',
        ttlMs: 10_000,
        limit: 1,
        permits: 1,
        changeLimit: false,
        queue: false,
      }),
    ).toMatchObject({ acquired: true });
    expect(await e.campaign(campaign('x', 'e'))).toMatchObject({ acquired: true });
    expect(await e.resign({ key: 'x', owner: 'e' })).toBe('released');
    expect((await backend.inspect('x'))?.owner).toBe('l');
    await backend.close();
  });

  it('terms strictly increase across resign, expiry, reopening the file and a second process', async () => {
    const path = join(dir.path, 'terms.db');
    let now = 1_000_000;
    const first = open(path, () => now);
    const t1 = term(await first.e.campaign(campaign('k', 'a', { ttlMs: 1_000 })));
    now += 1_001;
    expect(await first.e.leader('k')).toBeNull();
    const t2 = term(await first.e.campaign(campaign('k', 'b')));
    expect(await first.e.resign({ key: 'k', owner: 'b' })).toBe('released');
    await first.backend.close();
    const second = open(path, () => now);
    const t3 = term(await second.e.campaign(campaign('k', 'c')));
    const other = open(path, () => now);
    expect(await other.e.campaign(campaign('k', 'd'))).toMatchObject({ acquired: false });
    expect(await second.e.resign({ key: 'k', owner: 'c' })).toBe('released');
    const t4 = term(await other.e.campaign(campaign('k', 'd')));
    expect([t1 < t2, t2 < t3, t3 < t4]).toEqual([true, true, true]);
    await second.backend.close();
    await other.backend.close();
  });

  it('keeps terms increasing when the file goes back to an older copy (lost commits, a restored backup)', async () => {
    const path = join(dir.path, 'restored.db');
    const backup = join(dir.path, 'restored-backup.db');
    const lead = async (owner: string) => {
      const backend = sqliteBackend({ path, synchronous: 'normal' });
      try {
        const got = term(await backend.election!.campaign(campaign('k', owner)));
        expect(await backend.election!.resign({ key: 'k', owner })).toBe('released');
        return got;
      } finally {
        await backend.close();
      }
    };
    const before = Date.now();
    const first = await lead('a');
    // The floor: the system clock in µs, the locks' fencing floor.
    expect(first).toBeGreaterThanOrEqual(BigInt(before) * 1000n);
    copyFileSync(path, backup);
    const lost = await lead('b');
    copyFileSync(backup, path);
    for (const suffix of ['-wal', '-shm']) rmSync(path + suffix, { force: true });
    expect(await lead('c')).toBeGreaterThan(lost);
  });

  it('re-campaign re-enters with the same term and proclaims the new value; resign counts holds down', async () => {
    let now = 50_000;
    const { backend, e } = open(':memory:', () => now);
    const t = term(await e.campaign(campaign('k', 'a', { value: 'one', ttlMs: 5_000 })));
    now += 1_000;
    const again = await e.campaign(campaign('k', 'a', { value: 'two', ttlMs: 1_000 }));
    expect(again).toEqual({ acquired: true, reentered: true, fencingToken: t, ttlMs: 4_000 });
    expect(await e.leader('k')).toMatchObject({ owner: 'a', value: 'two', term: t });
    expect(await e.resign({ key: 'k', owner: 'b' })).toBe('not-held');
    expect(await e.resign({ key: 'k', owner: 'a' })).toBe('decremented');
    expect(await e.leader('k')).toMatchObject({ owner: 'a' });
    expect(await e.resign({ key: 'k', owner: 'a' })).toBe('released');
    expect(await e.resign({ key: 'k', owner: 'a' })).toBe('not-held');
    await backend.close();
  });

  it('proclaim and extend are owner-checked, keep the term and never revive an expired leader', async () => {
    let now = 10_000;
    const { backend, e } = open(':memory:', () => now);
    const t = term(await e.campaign(campaign('k', 'a', { ttlMs: 1_000 })));
    expect(await e.proclaim({ key: 'k', owner: 'b', value: 'evil' })).toBe(false);
    expect(await e.proclaim({ key: 'k', owner: 'a', value: 'new' })).toBe(true);
    expect(await e.leader('k')).toEqual({ owner: 'a', value: 'new', term: t, ttlMs: 1_000 });
    now += 500;
    expect(await e.extend({ key: 'k', owner: 'b', ttlMs: 1_000 })).toBe(false);
    expect(
      await e.extendMany!([
        { key: 'k', owner: 'a', ttlMs: 1_000 },
        { key: 'other', owner: 'a', ttlMs: 1_000 },
      ]),
    ).toEqual([true, false]);
    now += 1_001;
    expect(await e.leader('k')).toBeNull();
    expect(await e.extend({ key: 'k', owner: 'a', ttlMs: 1_000 })).toBe(false);
    expect(await e.proclaim({ key: 'k', owner: 'a', value: 'late' })).toBe(false);
    expect(await e.leader('k')).toBeNull();
    await backend.close();
  });

  it('queues waiting candidates in arrival order with waiter leases; abandon and a lapsed lease give up the place', async () => {
    let now = 100_000;
    const { backend, e } = open(':memory:', () => now);
    term(await e.campaign(campaign('k', 'leader', { ttlMs: 60_000 })));
    const wait = (owner: string, ttlMs = 3_000) => campaign('k', owner, { queue: true, ttlMs });
    for (const owner of ['early', 'quitter', 'gone', 'late']) {
      const refused = await e.campaign(wait(owner, owner === 'gone' ? 1_000 : 3_000));
      expect(refused.acquired).toBe(false);
      // The candidate re-checks within a third of its lease, which keeps its entry alive.
      expect(!refused.acquired && refused.retryAfterMs).toBeLessThanOrEqual(
        owner === 'gone' ? 333 : 1_000,
      );
    }
    // A candidate that does not wait (tryCampaign) is refused behind the queue, and not queued.
    expect(await e.campaign(campaign('k', 'impatient'))).toMatchObject({ acquired: false });
    expect(await e.abandon({ key: 'k', owner: 'impatient' })).toBe(false);
    expect(await e.abandon({ key: 'k', owner: 'quitter' })).toBe(true);
    expect(await e.abandon({ key: 'k', owner: 'quitter' })).toBe(false);
    expect(await e.resign({ key: 'k', owner: 'leader' })).toBe('released');
    now += 1_002;
    // 'gone' stopped polling and its lease lapsed; 'late' and 'early' kept theirs alive.
    expect(await e.campaign(wait('late'))).toMatchObject({ acquired: false });
    expect(await e.campaign(campaign('k', 'impatient'))).toMatchObject({ acquired: false });
    expect(await e.campaign(wait('early'))).toMatchObject({ acquired: true, reentered: false });
    expect(await e.resign({ key: 'k', owner: 'early' })).toBe('released');
    // 'gone' asks again: at the back, behind 'late'.
    expect(await e.campaign(wait('gone'))).toMatchObject({ acquired: false });
    expect(await e.campaign(wait('late'))).toMatchObject({ acquired: true });
    expect(await e.resign({ key: 'k', owner: 'late' })).toBe('released');
    expect(await e.campaign(wait('gone'))).toMatchObject({ acquired: true });
    await backend.close();
  });

  it('leaves no candidate entry behind: a grant removes it, and entries of dead candidates go at the next open', async () => {
    const path = join(dir.path, 'entries.db');
    let now = 1_000;
    const { backend, e } = open(path, () => now);
    term(await e.campaign(campaign('k', 'leader')));
    await e.campaign(campaign('k', 'dead', { queue: true, ttlMs: 1_000 }));
    await e.campaign(campaign('k', 'next', { queue: true }));
    const raw = openRaw(path);
    const count = () =>
      Number(
        (raw.prepare('SELECT COUNT(*) AS n FROM dlock_election_candidates').get() as { n: number })
          .n,
      );
    expect(count()).toBe(2);
    now += 1_002;
    await e.resign({ key: 'k', owner: 'leader' });
    await e.campaign(campaign('k', 'next', { queue: true }));
    // Granted: its own entry went, and the lapsed one with it.
    expect(await e.leader('k')).toMatchObject({ owner: 'next' });
    expect(count()).toBe(0);
    await e.campaign(campaign('k', 'dead2', { queue: true, ttlMs: 1_000 }));
    await backend.close();
    now += 1_002;
    const reopened = open(path, () => now);
    expect(count()).toBe(0);
    raw.close();
    await reopened.backend.close();
  });
});
