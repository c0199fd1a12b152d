/**
 * Election faults on the single node: a waiting candidate whose lease dies is never granted (the
 * phantom-leader bug of etcd's Election), and observe() survives a lost connection.
 */
import { randomBytes } from 'node:crypto';
import { createLockClient, LockBackendError } from '@dlock/lock-core';
import type { ElectionBackend } from '@dlock/lock-core/spi';
import { startTcpProxy, waitUntil } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { etcdBackend } from '../src/index.js';
import { ETCD_HOST, ETCD_PORT, etcd, useEtcd } from './helpers/etcd.js';

describe.skipIf(!etcd.available)('election faults', () => {
  const { client, prefix, backend } = useEtcd('election-faults');
  const election = (): ElectionBackend => backend().election!;
  const owner = () => randomBytes(16).toString('hex');
  const name = (what: string) => `${what}-${randomBytes(4).toString('hex')}`;
  const candidates = async (n: string) =>
    (await client.getAll().prefix(`${prefix}elect/${n}/`).sort('Create', 'Ascend').exec()).kvs;

  it('a waiting candidate whose lease is revoked gets an error, never leadership, and leaves nothing', async () => {
    const [a, b] = [election(), election()];
    const n = name('phantom');
    const leader = { key: n, owner: owner(), ttlMs: 10_000, value: 'leader', queue: false };
    expect((await a.campaign(leader)).acquired).toBe(true);
    const waiter = { key: n, owner: owner(), ttlMs: 10_000, value: 'waiter', queue: true };
    const pending = b.waitCampaign!({
      ...waiter,
      timeoutMs: 60_000,
      signal: new AbortController().signal,
    });
    const settled = pending.then(
      () => 'granted',
      (error: unknown) => error,
    );
    await waitUntil(async () => (await candidates(n)).length === 2, { message: 'queued' });
    const [, queued] = await candidates(n);
    // Its session dies behind its back (as an expiry would), then the leader goes.
    await client.leaseClient.leaseRevoke({ ID: String(queued!.lease) });
    expect(await a.resign(leader)).toBe('released');
    expect(await settled).toBeInstanceOf(LockBackendError);
    expect(await b.leader(n)).toBeNull();
    expect(await candidates(n)).toEqual([]);
    expect(await client.getAll().prefix(`${prefix}electors/${n}/`).keys()).toEqual([]);
  });

  it('observe() through a connection that is reset sees the changes made meanwhile', async () => {
    const proxy = await startTcpProxy({ target: { host: ETCD_HOST, port: ETCD_PORT } });
    const cutClient = new Etcd3({ hosts: `http://127.0.0.1:${proxy.port}` });
    const observing = createLockClient(etcdBackend({ client: cutClient, prefix }), {
      ttlMs: 5_000,
    });
    const leading = createLockClient(etcdBackend({ client, prefix }), { ttlMs: 5_000 });
    try {
      const n = name('observe');
      const observer = observing.election(n, { value: 'x' }).observe();
      expect((await observer.next()).value).toBeNull();
      proxy.cut('reset');
      const leadership = await leading.election(n, { value: 'while-cut' }).campaign();
      proxy.restore();
      let seen = (await observer.next()).value;
      while (seen?.value !== 'while-cut') seen = (await observer.next()).value;
      expect(seen.term).toBe(leadership.term);
      await leadership.proclaim('after');
      while (seen?.value !== 'after') seen = (await observer.next()).value;
      await observer.return?.();
      await leadership.resign();
    } finally {
      await Promise.all([observing.close(), leading.close()]);
      cutClient.close();
      await proxy.close();
    }
  });
});
