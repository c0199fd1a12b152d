import { createLockClient, type ListedState, type LockBackend } from '@dlock/lock-core';
import { waitUntil } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { etcdBackend } from '../src/index.js';
import { ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

/** Every page of the raw SPI listing, so duplicates across pages would show. */
async function pages(backend: LockBackend, prefix: string, limit: number): Promise<ListedState[]> {
  const found: ListedState[] = [];
  let cursor: string | undefined;
  do {
    const page = await backend.list!({ prefix, limit, cursor });
    found.push(...page.locks);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return found;
}

describe.skipIf(!etcd.available)('etcd list', () => {
  const client = new Etcd3({ hosts: ETCD_URL });
  const prefix = runPrefix('list');
  afterAll(async () => {
    await client.delete().prefix(prefix);
    client.close();
  });

  it('counts the queue behind each holder, and reports nested lock names once each', async () => {
    const holder = createLockClient(etcdBackend({ client, prefix }));
    const waiter = createLockClient(etcdBackend({ client, prefix }));
    const lister = etcdBackend({ client, prefix });
    const names = ['n/1', 'n/1/b', 'n/1/c', 'n/10', 'n/2'];
    const locks = await Promise.all(names.map((k) => holder.acquire(k, { ttlMs: 30_000 })));
    const queued = waiter.acquire('n/1', { waitTimeoutMs: 30_000 });
    await waitUntil(
      async () => (await pages(lister, 'n/', 100)).find((s) => s.key === 'n/1')?.waiters === 1,
      { message: 'the waiter to be queued' },
    );
    for (const limit of [1, 2, 100]) {
      const listed = await pages(lister, 'n/', limit);
      expect(listed.map((s) => s.key).sort(), `limit ${limit}`).toEqual(names);
      const n1 = listed.find((s) => s.key === 'n/1')!;
      expect(n1.fencingToken).toBe(locks[0]!.fencingToken);
      expect(n1.waiters).toBe(1);
      expect(listed.filter((s) => s.key !== 'n/1').every((s) => s.waiters === 0)).toBe(true);
    }
    expect((await pages(lister, 'n/1/', 100)).map((s) => s.key).sort()).toEqual(['n/1/b', 'n/1/c']);
    await locks[0]!.release();
    const next = await queued;
    const after = (await pages(lister, 'n/1', 100)).find((s) => s.key === 'n/1')!;
    expect([after.fencingToken, after.waiters]).toEqual([next.fencingToken, 0]);
    await Promise.all([next, ...locks.slice(1)].map((l) => l.release()));
    await Promise.all([holder.close(), waiter.close(), lister.close()]);
  });

  it('lists locks that etcdctl lock holds (empty value) under their lease', async () => {
    const lister = createLockClient(etcdBackend({ client, prefix }));
    const lease = client.lease(10, { autoKeepAlive: false });
    const id = await lease.grant();
    await lease.put(`${prefix}foreign/${BigInt(id).toString(16)}`).value('');
    const found = [];
    for await (const lock of lister.list('foreign')) found.push(lock);
    expect(found).toMatchObject([
      { key: 'foreign', holder: `etcd-lease:${BigInt(id).toString(16)}` },
    ]);
    await lease.revoke();
    await lister.close();
  });
});
