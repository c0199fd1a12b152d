/**
 * dlock's elections are etcd's `concurrency.Election` layout under `<prefix>elect/<name>`, so the
 * real `etcdctl elect` takes part in them both ways: as a candidate and as an observer.
 */
import { createLockClient, type LockClient, LockTimeoutError } from '@dlock/lock-core';
import { type ManagedProcess, startProcess, waitUntil } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { etcdBackend } from '../src/index.js';
import { ETCD_URL, etcd, requireBinary, runPrefix } from './helpers/etcd.js';

const etcdctl = await requireBinary('etcdctl');

describe.skipIf(!etcd.available || !etcdctl.available)('interop with etcdctl elect', () => {
  const client = new Etcd3({ hosts: ETCD_URL });
  const prefix = runPrefix('election-etcdctl');
  const clients: LockClient[] = [];
  const processes: ManagedProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGTERM')));
    await Promise.all(clients.map((c) => c.close()));
    client.close();
  });

  const locks = (): LockClient => {
    const locks = createLockClient(etcdBackend({ client, prefix }), { ttlMs: 5_000 });
    clients.push(locks);
    return locks;
  };
  let counter = 0;
  const electionName = (what: string) => `${what}-${++counter}`;
  /** The election's name for etcd, as the README tells operators to pass it to etcdctl. */
  const etcdName = (name: string) => `${prefix}elect/${name}`;
  /** The candidate keys, oldest first, as etcd's Election sees them. */
  const candidates = async (name: string) =>
    (
      await client
        .getAll()
        .prefix(`${etcdName(name)}/`)
        .sort('Create', 'Ascend')
        .keys()
    ).map(String);
  /**
   * `etcdctl elect <name> <value>` prints the leader key and value once it leads (and resigns on
   * SIGTERM); `etcdctl elect -l <name>` prints each leader's key and value as it changes.
   */
  const etcdctlElect = async (name: string, value: string | undefined) => {
    const proc = await startProcess({
      name: `etcdctl elect ${value ?? '-l'}`,
      command: 'etcdctl',
      args: [
        '--endpoints',
        ETCD_URL,
        'elect',
        ...(value === undefined ? ['-l', etcdName(name)] : [etcdName(name), value]),
      ],
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    processes.push(proc);
    return proc;
  };
  const leads = (proc: ManagedProcess, name: string) =>
    proc.stdoutLines().some((line) => line.startsWith(`${etcdName(name)}/`));

  it('writes the Election layout: <prefix>elect/<name>/<lease hex> = value, on its lease', async () => {
    const name = electionName('layout');
    const leadership = await locks().election(name, { value: 'host-a:8080' }).campaign();
    const keys = await candidates(name);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`^${etcdName(name)}/[0-9a-f]+$`));
    const [kv] = (
      await client
        .getAll()
        .prefix(`${etcdName(name)}/`)
        .exec()
    ).kvs;
    expect(kv!.value.toString()).toBe('host-a:8080');
    expect(BigInt(`0x${keys[0]!.split('/').at(-1)}`)).toBe(BigInt(String(kv!.lease)));
    expect(leadership.term).toBe(BigInt(kv!.create_revision));
    // The owner token is not in the public value, nor anywhere etcdctl elect reads.
    expect(kv!.value.toString()).not.toContain('#');
    await leadership.resign();
    expect(await candidates(name)).toEqual([]);
    expect(await client.getAll().prefix(`${prefix}electors/${name}/`).keys()).toEqual([]);
  });

  it('an etcdctl leader is seen by leader() and observe(), blocks campaign(), and is followed after it resigns', async () => {
    const name = electionName('etcdctl-first');
    const ctl = await etcdctlElect(name, 'etcdctl-value');
    await waitUntil(() => leads(ctl, name), { message: 'etcdctl leads' });
    const [key] = await candidates(name);
    const ctlTerm = BigInt((await client.get(key!).exec()).kvs[0]!.create_revision);
    const a = locks();
    const election = a.election(name, { value: 'dlock-value' });
    const seen = await election.leader();
    expect(seen).toMatchObject({ value: 'etcdctl-value', term: ctlTerm });
    expect(seen!.holder).toMatch(/^etcd-lease:[0-9a-f]+$/);
    const observer = election.observe();
    expect((await observer.next()).value).toMatchObject({ value: 'etcdctl-value' });
    await expect(election.campaign({ waitTimeoutMs: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
    const waiting = election.campaign({ waitTimeoutMs: 30_000 });
    await waitUntil(async () => (await candidates(name)).length === 2, {
      message: 'dlock queued behind etcdctl',
    });
    // etcdctl resigns on SIGTERM (it revokes its session).
    await ctl.stop('SIGTERM');
    const leadership = await waiting;
    expect(leadership.term).toBeGreaterThan(ctlTerm);
    let next = (await observer.next()).value;
    while (next === null || next.value !== 'dlock-value') next = (await observer.next()).value;
    expect(next.term).toBe(leadership.term);
    await observer.return?.();
    await leadership.resign();
  });

  it('a dlock leader is seen by etcdctl elect -l and blocks etcdctl elect, which leads after the resign', async () => {
    const name = electionName('dlock-first');
    const leadership = await locks().election(name, { value: 'dlock-leader' }).campaign();
    const observer = await etcdctlElect(name, undefined);
    await observer.waitForOutput(/dlock-leader/, 10_000);
    const ctl = await etcdctlElect(name, 'etcdctl-next');
    await waitUntil(async () => (await candidates(name)).length === 2, {
      message: 'etcdctl queued behind dlock',
    });
    expect(leads(ctl, name)).toBe(false);
    await leadership.resign();
    await waitUntil(() => leads(ctl, name), { timeoutMs: 10_000, message: 'etcdctl leads' });
    await observer.waitForOutput(/etcdctl-next/, 10_000);
    expect(await locks().election(name, { value: 'x' }).leader()).toMatchObject({
      value: 'etcdctl-next',
    });
    await ctl.stop('SIGTERM');
    await observer.stop('SIGTERM');
    await waitUntil(async () => (await candidates(name)).length === 0, {
      message: 'etcdctl resigned on SIGTERM',
    });
  });

  it('a dlock leader that goes away (client closed) lets the waiting etcdctl candidate lead', async () => {
    const name = electionName('dlock-close');
    const owner = locks();
    await owner.election(name, { value: 'closing' }).campaign();
    const ctl = await etcdctlElect(name, 'survivor');
    await waitUntil(async () => (await candidates(name)).length === 2, {
      message: 'etcdctl queued behind dlock',
    });
    await owner.close();
    await waitUntil(() => leads(ctl, name), { timeoutMs: 10_000, message: 'etcdctl leads' });
    await ctl.stop('SIGTERM');
  });
});
