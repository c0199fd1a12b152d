/**
 * The election's keys and the mutex's share etcd's key space: an election `x` writes under
 * `<prefix>elect/x/` and `<prefix>electors/x/`, which are also the queues of the locks named
 * `elect/x` and `electors/x`. Neither side may take the other's keys for its own.
 */
import { randomBytes } from 'node:crypto';
import type { LockBackend } from '@dlock/lock-core';
import type { ElectionBackend } from '@dlock/lock-core/spi';
import { describe, expect, it } from 'vitest';
import { etcd, useEtcd } from './helpers/etcd.js';

describe.skipIf(!etcd.available)('elections and locks of colliding names', () => {
  const { client, prefix, backend } = useEtcd('election-names');
  const electionOf = (b: LockBackend): ElectionBackend => b.election!;
  const owner = () => randomBytes(16).toString('hex');
  const campaign = (key: string, who: string) => ({
    key,
    owner: who,
    ttlMs: 10_000,
    value: 'v',
    queue: false,
  });

  it('a lock named elect/<x> (or electors/<x>) and the election <x> never see each other', async () => {
    const [a, b] = [backend(), backend()];
    const x = `n-${randomBytes(4).toString('hex')}`;
    const leader = owner();
    const grant = await electionOf(a).campaign(campaign(x, leader));
    expect(grant.acquired).toBe(true);
    for (const lockName of [`elect/${x}`, `electors/${x}`]) {
      const holder = owner();
      // The election's bare-hex keys are no foreign Mutex contenders to the lock.
      expect(await b.tryAcquire({ key: lockName, owner: holder, ttlMs: 10_000 })).toMatchObject({
        acquired: true,
      });
      expect((await b.inspect(lockName))?.owner).toBe(holder);
      const listed = await b.list!({ prefix: '', limit: 100 });
      expect(listed.locks.map((l) => l.key)).toEqual([lockName]);
      // And the lock's key is no candidate to the election.
      expect(await electionOf(b).leader(x)).toMatchObject({ owner: leader });
      const rival = owner();
      expect((await electionOf(b).campaign(campaign(x, rival))).acquired).toBe(false);
      expect(await b.release({ key: lockName, owner: holder })).toBe('released');
    }
    expect(await electionOf(a).resign({ key: x, owner: leader })).toBe('released');
    // Nothing left of either under the prefix.
    expect(await client.getAll().prefix(prefix).keys()).toEqual([]);
  });

  it('nested election names are apart: a/b is no candidate of a', async () => {
    const e = electionOf(backend());
    const a = `nest-${randomBytes(4).toString('hex')}`;
    const inner = owner();
    expect((await e.campaign(campaign(`${a}/b`, inner))).acquired).toBe(true);
    expect(await e.leader(a)).toBeNull();
    const outer = owner();
    expect((await e.campaign(campaign(a, outer))).acquired).toBe(true);
    expect(await e.leader(`${a}/b`)).toMatchObject({ owner: inner });
    expect(await e.resign({ key: a, owner: outer })).toBe('released');
    expect(await e.resign({ key: `${a}/b`, owner: inner })).toBe('released');
  });
});
