/**
 * With `prefix: ''` our key layout is etcd's own Mutex layout, so dlock and the real
 * `etcdctl lock` exclude each other, in both directions, and share one FIFO queue.
 */
import { createLockClient, type LockClient } from '@dlock/lock-core';
import { type ManagedProcess, startProcess, waitUntil } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { etcdBackend } from '../src/index.js';
import { ETCD_URL, etcd, requireBinary } from './helpers/etcd.js';

const etcdctl = await requireBinary('etcdctl');

describe.skipIf(!etcd.available || !etcdctl.available)('interop with etcdctl lock', () => {
  const client = new Etcd3({ hosts: ETCD_URL });
  const clients: LockClient[] = [];
  const processes: ManagedProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGTERM')));
    await Promise.all(clients.map((c) => c.close()));
    client.close();
  });

  const locks = (): LockClient => {
    const locks = createLockClient(etcdBackend({ client, prefix: '', sessionTtlMs: 10_000 }), {
      ttlMs: 5_000,
    });
    clients.push(locks);
    return locks;
  };
  const lockName = (what: string) =>
    `dlock-test-etcdctl-${what}-${Math.random().toString(36).slice(2, 10)}`;
  /** The contender keys under `name/`, oldest first, as etcd's Mutex sees them. */
  const queue = async (name: string) =>
    (await client.getAll().prefix(`${name}/`).sort('Create', 'Ascend').keys()).map(String);
  const etcdctlLock = async (name: string) => {
    const proc = await startProcess({
      name: `etcdctl lock ${name}`,
      command: 'etcdctl',
      args: ['--endpoints', ETCD_URL, 'lock', '--ttl', '10', name],
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    processes.push(proc);
    return proc;
  };
  /** etcdctl prints its key once it holds the lock. */
  const heldKey = (proc: ManagedProcess, name: string) =>
    proc.stdoutLines().find((line) => line.startsWith(`${name}/`));

  it('puts its key directly under the etcdctl prefix: <name>/<lease id in hex>_<sequence>', async () => {
    const name = lockName('layout');
    const lock = await locks().acquire(name);
    const keys = await queue(name);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`^${name}/[0-9a-f]+_[0-9a-f]+$`));
    // The name starts with the key's lease in hex, as the Go Mutex names its key.
    const [kv] = (await client.getAll().prefix(`${name}/`).exec()).kvs;
    const lease = keys[0]!.slice(name.length + 1).split('_')[0];
    expect(BigInt(`0x${lease}`)).toBe(BigInt(String(kv!.lease)));
    await lock.release();
    expect(await queue(name)).toEqual([]);
  });

  it('etcdctl lock waits while dlock holds, and takes the lock when dlock releases', async () => {
    const name = lockName('dlock-first');
    const lock = await locks().acquire(name);
    const ctl = await etcdctlLock(name);
    await waitUntil(async () => (await queue(name)).length === 2, {
      message: 'etcdctl queued behind dlock',
    });
    expect(heldKey(ctl, name)).toBeUndefined();
    await lock.release();
    const key = await waitUntil(() => heldKey(ctl, name), {
      timeoutMs: 10_000,
      message: 'etcdctl acquired after release',
    });
    expect(await queue(name)).toEqual([key]);
    await ctl.stop('SIGTERM');
    await waitUntil(async () => (await queue(name)).length === 0, {
      message: 'etcdctl unlocked on SIGTERM',
    });
  });

  it('dlock waits while etcdctl holds (native queue and watch), and gets the lock after it', async () => {
    const name = lockName('etcdctl-first');
    const ctl = await etcdctlLock(name);
    const key = await waitUntil(() => heldKey(ctl, name), { message: 'etcdctl holds' });
    const ctlRevision = BigInt((await client.get(key).exec()).kvs[0]!.create_revision);
    const a = locks();
    const b = locks();
    expect(await a.tryAcquire(name)).toBeNull();
    const info = await a.inspect(name);
    expect(info?.fencingToken).toBe(ctlRevision);
    expect(info?.holder).toMatch(/^etcd-lease:[0-9a-f]+$/);
    const native = a.acquire(name, { strategy: 'native', waitTimeoutMs: 30_000 });
    const watching = b.acquire(name, { strategy: 'watch', waitTimeoutMs: 30_000 });
    await waitUntil(async () => (await queue(name)).length === 2, {
      message: 'the native waiter queued behind etcdctl',
    });
    expect(await b.tryAcquire(name)).toBeNull();
    await ctl.stop('SIGTERM');
    // The native waiter queued first, so it is next; the watching one follows.
    const first = await native;
    expect(first.fencingToken).toBeGreaterThan(ctlRevision);
    await first.release();
    const second = await watching;
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    await second.release();
    expect(await queue(name)).toEqual([]);
  });

  it('force-releases a lock etcdctl holds, and the next dlock waiter gets it', async () => {
    const name = lockName('force');
    const ctl = await etcdctlLock(name);
    const key = await waitUntil(() => heldKey(ctl, name), { message: 'etcdctl holds' });
    const a = locks();
    const waiting = a.acquire(name, { waitTimeoutMs: 30_000 });
    await waitUntil(async () => (await queue(name)).length === 2, { message: 'dlock queued' });
    expect(await locks().forceRelease(name)).toBe(true);
    const lock = await waiting;
    expect(await queue(name)).not.toContain(key);
    await lock.release();
    await ctl.stop('SIGTERM');
    expect(await queue(name)).toEqual([]);
  });
});
