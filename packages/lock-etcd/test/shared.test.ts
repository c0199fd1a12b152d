/**
 * Semaphores and read-write locks (the `shared` SPI) on the shared single node: grant rules, FIFO
 * by create revision across backends, the waiter queue (kept, abandoned, aborted), a revoked
 * lease while queued, limits, fencing, downgrade and upgrade, and the key layout.
 */
import { LockClosedError, LockLimitError, LockUpgradeError } from '@dlock/lock-core';
import type {
  AcquireResult,
  LeaseAcquireRequest,
  LeaseKind,
  LockBackend,
  SharedBackend,
} from '@dlock/lock-core/spi';
import { waitUntil } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import type { EtcdClientLike, EtcdDriver } from '../src/driver.js';
import { createEtcdBackend } from '../src/etcd-backend.js';
import { createEtcd3Driver } from '../src/etcd3-driver.js';
import { etcdBackend } from '../src/index.js';
import { ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

const TTL_MS = 5_000;

function token(result: AcquireResult): bigint {
  if (!result.acquired) throw new Error('not granted');
  return result.fencingToken;
}

describe.skipIf(!etcd.available)('semaphores and read-write locks', () => {
  const client = new Etcd3({ hosts: ETCD_URL });
  const prefix = runPrefix('shared-etcd');
  const backends: LockBackend[] = [];
  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
    // Everything this run created is gone: holds released, waiters withdrawn, sessions revoked.
    expect(await client.getAll().prefix(prefix).keys()).toEqual([]);
    client.close();
  });
  const backend = (): SharedBackend => {
    const b = etcdBackend({ client, prefix });
    backends.push(b);
    return b.shared!;
  };
  const sem = (
    key: string,
    owner: string,
    more: Partial<LeaseAcquireRequest> = {},
  ): LeaseAcquireRequest => ({
    kind: 'semaphore',
    key,
    owner,
    ttlMs: TTL_MS,
    limit: 2,
    permits: 1,
    changeLimit: false,
    queue: false,
    ...more,
  });
  const rw = (
    kind: LeaseKind,
    key: string,
    owner: string,
    more: Partial<LeaseAcquireRequest> = {},
  ): LeaseAcquireRequest => ({
    kind,
    key,
    owner,
    ttlMs: TTL_MS,
    limit: 1,
    permits: 1,
    changeLimit: false,
    queue: false,
    ...more,
  });
  const keysOf = async (dir: string) =>
    (await client.getAll().prefix(`${prefix}${dir}/`).sort('Create', 'Ascend').keys()).map(String);
  const leaseOf = (etcdKey: string) =>
    BigInt(`0x${etcdKey.slice(etcdKey.lastIndexOf('/') + 2).split('_')[0]}`);

  it('grants a semaphore to at most `limit` owners and leaves no key for a refused attempt', async () => {
    const s = backend();
    const a = await s.tryAcquire(sem('basic', 'a'));
    const b = await s.tryAcquire(sem('basic', 'b'));
    expect(a.acquired && b.acquired).toBe(true);
    expect(token(b)).toBeGreaterThan(token(a));
    expect((await s.tryAcquire(sem('basic', 'c'))).acquired).toBe(false);
    expect(await keysOf('sem/basic')).toHaveLength(2);
    const state = await s.inspect('semaphore', 'basic');
    expect(state).toMatchObject({ key: 'basic', limit: 2, waiters: 0 });
    expect(state?.holders.map((h) => [h.owner, h.kind, h.permits, h.count])).toEqual([
      ['a', 'semaphore', 1, 1],
      ['b', 'semaphore', 1, 1],
    ]);
    expect(await s.release(sem('basic', 'a'))).toBe('released');
    // Double release never raises availability above the limit.
    expect(await s.release(sem('basic', 'a'))).toBe('not-held');
    const c = await s.tryAcquire(sem('basic', 'c'));
    expect(token(c)).toBeGreaterThan(token(b));
    expect((await s.tryAcquire(sem('basic', 'd'))).acquired).toBe(false);
    expect(await s.release(sem('basic', 'b'))).toBe('released');
    expect(await s.release(sem('basic', 'c'))).toBe('released');
    expect(await s.inspect('semaphore', 'basic')).toBeNull();
  });

  it('takes several permits atomically and serves a queued big request before later small ones', async () => {
    const [s, t] = [backend(), backend()];
    const limit = 3;
    expect((await s.tryAcquire(sem('fifo-big', 'small-1', { limit }))).acquired).toBe(true);
    const big = sem('fifo-big', 'big', { limit, permits: 3, queue: true });
    const refused = await t.tryAcquire(big);
    expect(refused).toMatchObject({ acquired: false });
    expect(refused.acquired === false && refused.retryAfterMs).toBeLessThanOrEqual(TTL_MS / 3);
    // Two permits are free, but the queued big request arrived first: no starvation.
    expect((await s.tryAcquire(sem('fifo-big', 'small-2', { limit }))).acquired).toBe(false);
    expect((await s.inspect('semaphore', 'fifo-big'))?.waiters).toBe(1);
    expect(await s.release(sem('fifo-big', 'small-1', { limit }))).toBe('released');
    const granted = await t.tryAcquire(big);
    expect(granted).toMatchObject({ acquired: true, reentered: false });
    expect((await s.inspect('semaphore', 'fifo-big'))?.holders).toMatchObject([
      { owner: 'big', permits: 3 },
    ]);
    expect(await t.release(big)).toBe('released');
  });

  it('refuses a different limit with LockLimitError (no key left) unless changeLimit', async () => {
    const [s, t] = [backend(), backend()];
    await s.tryAcquire(sem('limits', 'a', { limit: 2 }));
    const error = await t.tryAcquire(sem('limits', 'b', { limit: 3 })).catch((e: unknown) => e);
    expect(LockLimitError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ storedLimit: 2, requestedLimit: 3 });
    expect(await keysOf('sem/limits')).toHaveLength(1);
    const changed = await t.tryAcquire(sem('limits', 'b', { limit: 3, changeLimit: true }));
    expect(changed.acquired).toBe(true);
    expect((await s.inspect('semaphore', 'limits'))?.limit).toBe(3);
    await expect(s.tryAcquire(sem('limits', 'c', { limit: 2 }))).rejects.toSatisfy(
      LockLimitError.isInstance,
    );
    expect(await s.release(sem('limits', 'a'))).toBe('released');
    expect(await t.release(sem('limits', 'b', { limit: 3 }))).toBe('released');
    // Nobody holds or waits: the key has no limit any more and takes the caller's.
    expect((await s.tryAcquire(sem('limits', 'c', { limit: 5 }))).acquired).toBe(true);
    expect(await s.release(sem('limits', 'c', { limit: 5 }))).toBe('released');
  });

  it('re-enters a semaphore (same token, count 2) even when it is full', async () => {
    const s = backend();
    const request = sem('reenter', 'a', { limit: 1 });
    const first = await s.tryAcquire(request);
    const again = await s.tryAcquire(request);
    expect(again).toMatchObject({ acquired: true, reentered: true });
    expect(token(again)).toBe(token(first));
    expect((await s.inspect('semaphore', 'reenter'))?.holders[0]?.count).toBe(2);
    // Renewed (for the whole TTL, or what a keep-alive shared a moment earlier covers).
    expect(await s.extend(request)).toBeTruthy();
    expect(await s.release(request)).toBe('decremented');
    expect(await s.release(request)).toBe('released');
    expect(await s.extend(request)).toBe(false);
  });

  it.each([
    ['semaphore', (key: string, owner: string) => sem(key, owner, { limit: 1 })],
    ['write lock', (key: string, owner: string) => rw('write', key, owner)],
  ] as const)(
    'grants 5 waiting %s contenders of 5 backends in queue order (FIFO by create revision)',
    async (what, request) => {
      const key = `fifo-5-${what.replace(' ', '-')}`;
      const dir = what === 'semaphore' ? `sem/${key}` : `rw/${key}`;
      const holder = backend();
      const held = request(key, 'holder');
      expect((await holder.tryAcquire(held)).acquired).toBe(true);
      const order: number[] = [];
      const done: Promise<void>[] = [];
      const waiters = Array.from({ length: 5 }, () => backend());
      for (const [i, w] of waiters.entries()) {
        const mine = request(key, `w${i}`);
        done.push(
          w.waitAcquire!({
            ...mine,
            queue: true,
            timeoutMs: 30_000,
            signal: new AbortController().signal,
          }).then(async (result) => {
            expect(result.acquired).toBe(true);
            order.push(i);
            expect(await w.release(mine)).toBe('released');
          }),
        );
        await waitUntil(async () => (await keysOf(dir)).length === i + 2);
      }
      expect(await holder.release(held)).toBe('released');
      await Promise.all(done);
      expect(order).toEqual([0, 1, 2, 3, 4]);
    },
  );

  it('hands a limit-2 semaphore to two waiters at once when both holders leave', async () => {
    const holder = backend();
    const waiters = [backend(), backend(), backend()];
    const a = sem('two-at-once', 'a');
    const b = sem('two-at-once', 'b');
    await holder.tryAcquire(a);
    await holder.tryAcquire(b);
    const granted: string[] = [];
    const waiting: Promise<void>[] = [];
    for (const [i, w] of waiters.entries()) {
      waiting.push(
        w.waitAcquire!({
          ...sem('two-at-once', `w${i}`),
          queue: true,
          timeoutMs: 30_000,
          signal: new AbortController().signal,
        }).then((r) => {
          expect(r.acquired).toBe(true);
          granted.push(`w${i}`);
        }),
      );
      // One after another, so that their places in the queue are in this order.
      await waitUntil(async () => (await keysOf('sem/two-at-once')).length === i + 3);
    }
    await holder.release(a);
    await holder.release(b);
    // The first waiter watches the holders; the second, only the first's key (its grant marker).
    await Promise.all(waiting.slice(0, 2));
    expect(granted.sort()).toEqual(['w0', 'w1']);
    expect((await holder.inspect('semaphore', 'two-at-once'))?.waiters).toBe(1);
    await waiters[0]!.release(sem('two-at-once', 'w0'));
    await waiting[2];
    await waiters[1]!.release(sem('two-at-once', 'w1'));
    await waiters[2]!.release(sem('two-at-once', 'w2'));
  });

  it('never grants a waiter whose lease was revoked while it was queued; it lines up again', async () => {
    const [h, a, b] = [backend(), backend(), backend()];
    const key = 'revoked';
    const never = new AbortController().signal;
    await h.tryAcquire(rw('write', key, 'h'));
    const aWait = a.waitAcquire!({
      ...rw('write', key, 'a', { queue: true }),
      timeoutMs: 30_000,
      signal: never,
    });
    await waitUntil(async () => (await keysOf(`rw/${key}`)).length === 2);
    const bWait = b.waitAcquire!({
      ...rw('write', key, 'b', { queue: true }),
      timeoutMs: 30_000,
      signal: never,
    });
    await waitUntil(async () => (await keysOf(`rw/${key}`)).length === 3);
    const [, aKey, bKey] = await keysOf(`rw/${key}`);
    await client.leaseClient.leaseRevoke({ ID: leaseOf(aKey!).toString() });
    let aGranted = false;
    void aWait.then(
      () => {
        aGranted = true;
      },
      () => undefined,
    );
    // Released at once: A wakes on the holder's deletion before its backend can have noticed
    // the lease is gone; it must find its own key missing and not take the grant.
    expect(await h.release(rw('write', key, 'h'))).toBe('released');
    const bResult = await bWait;
    expect(bResult.acquired).toBe(true);
    // B holds the write lock; A must not (its old place died with its lease).
    expect(aGranted).toBe(false);
    expect((await h.inspect('read-write', key))?.holders.map((x) => x.owner)).toEqual(['b']);
    // A queued again at the back, behind B, on a new lease.
    await waitUntil(async () => {
      const keys = await keysOf(`rw/${key}`);
      return keys.length === 2 && keys[0] === bKey && keys[1] !== aKey;
    });
    expect(aGranted).toBe(false);
    expect(await b.release(rw('write', key, 'b'))).toBe('released');
    const aResult = await aWait;
    expect(token(aResult)).toBeGreaterThan(token(bResult));
    expect(await a.release(rw('write', key, 'a'))).toBe('released');
  });

  it('a waiter rides out a failed re-read: it keeps its place and re-reads shortly', async () => {
    const key = 'blip';
    let failures = 0;
    const inner = createEtcd3Driver(client as unknown as EtcdClientLike, 5_000);
    // The real driver, with the next `failures` queue reads failing as an unreachable etcd would.
    const driver = new Proxy(inner, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (name !== 'sharedRange' || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (failures > 0) {
            failures--;
            return Promise.reject(new Error('14 UNAVAILABLE: injected'));
          }
          return value.apply(target, args);
        };
      },
    }) as EtcdDriver;
    const b = createEtcdBackend({ driver, prefix });
    backends.push(b);
    const h = backend();
    await h.tryAcquire(rw('write', key, 'h'));
    const waiting = b.shared!.waitAcquire!({
      ...rw('write', key, 'w', { queue: true }),
      timeoutMs: 30_000,
      signal: new AbortController().signal,
    });
    await waitUntil(async () => (await keysOf(`rw/${key}`)).length === 2);
    failures = 2;
    await h.release(rw('write', key, 'h'));
    const result = await waiting;
    expect(result.acquired).toBe(true);
    expect(failures).toBe(0);
    expect(await b.shared!.release(rw('write', key, 'w'))).toBe('released');
  });

  it('an abort, a timeout and abandon() take the waiter out of the queue at once', async () => {
    const [h, w] = [backend(), backend()];
    const key = 'withdraw';
    const dir = `sem/${key}`;
    await h.tryAcquire(sem(key, 'h', { limit: 1 }));
    // tryAcquire with queue: true keeps its key as the queue entry; abandon removes it.
    expect((await w.tryAcquire(sem(key, 'q', { limit: 1, queue: true }))).acquired).toBe(false);
    expect(await keysOf(dir)).toHaveLength(2);
    expect(await w.abandon(sem(key, 'q'))).toBe(true);
    expect(await keysOf(dir)).toHaveLength(1);
    expect(await w.abandon(sem(key, 'q'))).toBe(false);
    // Abandon never touches a granted lease.
    expect(await h.abandon(sem(key, 'h'))).toBe(false);
    // A timed-out wait.
    const timedOut = await w.waitAcquire!({
      ...sem(key, 't', { limit: 1, queue: true }),
      timeoutMs: 300,
      signal: new AbortController().signal,
    });
    expect(timedOut.acquired).toBe(false);
    expect(await keysOf(dir)).toHaveLength(1);
    // An aborted one rejects with the reason.
    const controller = new AbortController();
    const waiting = w.waitAcquire!({
      ...sem(key, 'x', { limit: 1, queue: true }),
      timeoutMs: 30_000,
      signal: controller.signal,
    });
    await waitUntil(async () => (await keysOf(dir)).length === 2);
    const reason = new Error('gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(await keysOf(dir)).toHaveLength(1);
    expect(await h.release(sem(key, 'h', { limit: 1 }))).toBe('released');
    expect(await keysOf(dir)).toHaveLength(0);
  });

  it('lets readers share, a writer exclude, and a queued writer stop new readers', async () => {
    const [r, w] = [backend(), backend()];
    const key = 'readers';
    const r1 = await r.tryAcquire(rw('read', key, 'r1'));
    const r2 = await r.tryAcquire(rw('read', key, 'r2'));
    expect(r1.acquired && r2.acquired).toBe(true);
    expect((await w.tryAcquire(rw('write', key, 'w'))).acquired).toBe(false);
    expect(await keysOf(`rw/${key}`)).toHaveLength(2);
    expect((await w.tryAcquire(rw('write', key, 'w', { queue: true }))).acquired).toBe(false);
    // The queued writer stops later readers.
    expect((await r.tryAcquire(rw('read', key, 'r3'))).acquired).toBe(false);
    const state = await r.inspect('read-write', key);
    expect(state).toMatchObject({ limit: Number.POSITIVE_INFINITY, waiters: 1 });
    expect(state?.holders.map((h) => h.kind)).toEqual(['read', 'read']);
    await r.release(rw('read', key, 'r1'));
    expect((await w.tryAcquire(rw('write', key, 'w', { queue: true }))).acquired).toBe(false);
    await r.release(rw('read', key, 'r2'));
    const written = await w.tryAcquire(rw('write', key, 'w', { queue: true }));
    expect(token(written)).toBeGreaterThan(token(r2));
    // A read after the write carries a token at least the write's.
    await w.release(rw('write', key, 'w'));
    const later = await r.tryAcquire(rw('read', key, 'r4'));
    expect(token(later)).toBeGreaterThanOrEqual(token(written));
    await r.release(rw('read', key, 'r4'));
  });

  it('refuses a read-to-write upgrade at once with LockUpgradeError, and re-enters reads', async () => {
    const s = backend();
    const key = 'upgrade';
    await s.tryAcquire(rw('read', key, 'a'));
    const again = await s.tryAcquire(rw('read', key, 'a'));
    expect(again).toMatchObject({ acquired: true, reentered: true });
    await expect(s.tryAcquire(rw('write', key, 'a'))).rejects.toSatisfy(
      LockUpgradeError.isInstance,
    );
    await expect(
      s.waitAcquire!({
        ...rw('write', key, 'a', { queue: true }),
        timeoutMs: 30_000,
        signal: new AbortController().signal,
      }),
    ).rejects.toSatisfy(LockUpgradeError.isInstance);
    expect((await s.inspect('read-write', key))?.holders).toMatchObject([
      { kind: 'read', owner: 'a', count: 2 },
    ]);
    // The same explicit owner through another client: refused too, and no key left behind.
    const other = backend();
    await expect(other.tryAcquire(rw('write', key, 'a', { queue: true }))).rejects.toSatisfy(
      LockUpgradeError.isInstance,
    );
    expect(await keysOf(`rw/${key}`)).toHaveLength(1);
    expect(await s.release(rw('read', key, 'a'))).toBe('decremented');
    expect(await s.release(rw('read', key, 'a'))).toBe('released');
    expect(await keysOf(`rw/${key}`)).toHaveLength(0);
  });

  it('downgrades at once and lets no queued writer slip in between', async () => {
    const [s, other] = [backend(), backend()];
    const key = 'downgrade';
    const write = await s.tryAcquire(rw('write', key, 'a'));
    const w2 = rw('write', key, 'w2', { queue: true });
    const w2Wait = other.waitAcquire!({
      ...w2,
      timeoutMs: 30_000,
      signal: new AbortController().signal,
    });
    await waitUntil(async () => (await keysOf(`rw/${key}`)).length === 2);
    // The write holder takes the read lock although a writer waits: granted at once.
    const read = await s.tryAcquire(rw('read', key, 'a'));
    expect(read).toMatchObject({ acquired: true, reentered: false });
    expect(token(read)).toBeGreaterThanOrEqual(token(write));
    expect(await s.release(rw('write', key, 'a'))).toBe('released');
    // Still one key in front of the writer, now in read mode: the writer keeps waiting.
    let w2Granted = false;
    void w2Wait.then(
      () => {
        w2Granted = true;
      },
      () => undefined,
    );
    expect((await s.inspect('read-write', key))?.holders).toMatchObject([
      { kind: 'read', owner: 'a' },
    ]);
    expect((await other.tryAcquire(rw('read', key, 'r'))).acquired).toBe(false);
    expect(await s.extend(rw('read', key, 'a'))).toBeTruthy();
    expect(await s.extend(rw('write', key, 'a'))).toBe(false);
    expect(w2Granted).toBe(false);
    expect(await s.release(rw('read', key, 'a'))).toBe('released');
    const granted = await w2Wait;
    expect(token(granted)).toBeGreaterThan(token(read));
    expect(await other.release(w2)).toBe('released');
  });

  it('keeps semaphores, read-write locks, mutexes and nested names apart', async () => {
    const b = etcdBackend({ client, prefix });
    backends.push(b);
    const s = b.shared!;
    expect((await b.tryAcquire({ key: 'apart', owner: 'm', ttlMs: TTL_MS })).acquired).toBe(true);
    expect((await s.tryAcquire(sem('apart', 'x', { limit: 1 }))).acquired).toBe(true);
    expect((await s.tryAcquire(rw('write', 'apart', 'y'))).acquired).toBe(true);
    expect((await s.tryAcquire(sem('apart/nested', 'z', { limit: 1 }))).acquired).toBe(true);
    // A mutex whose name is the semaphore's queue prefix sees none of the semaphore's keys.
    expect((await b.tryAcquire({ key: 'sem/apart', owner: 'm', ttlMs: TTL_MS })).acquired).toBe(
      true,
    );
    expect((await s.inspect('semaphore', 'apart'))?.holders.map((h) => h.owner)).toEqual(['x']);
    expect((await b.inspect('apart'))?.owner).toBe('m');
    const listed = await b.list!({ prefix: '', limit: 100 });
    expect(listed.locks.map((l) => l.key).sort()).toEqual(['apart', 'sem/apart']);
    await b.release({ key: 'apart', owner: 'm' });
    await b.release({ key: 'sem/apart', owner: 'm' });
    await s.release(sem('apart', 'x'));
    await s.release(rw('write', 'apart', 'y'));
    await s.release(sem('apart/nested', 'z'));
  });

  it('forceRelease deletes every lease and queue entry; tokens keep growing', async () => {
    const [s, t] = [backend(), backend()];
    const key = 'force';
    const first = await s.tryAcquire(rw('write', key, 'a'));
    await t.tryAcquire(rw('read', key, 'b', { queue: true }));
    expect(await t.forceRelease!('read-write', key)).toBe(true);
    expect(await keysOf(`rw/${key}`)).toHaveLength(0);
    expect(await t.forceRelease!('read-write', key)).toBe(false);
    // The holder learns at its next renewal.
    expect(await s.extend(rw('write', key, 'a'))).toBe(false);
    const next = await t.tryAcquire(rw('write', key, 'c'));
    expect(token(next)).toBeGreaterThan(token(first));
    await t.release(rw('write', key, 'c'));
  });

  it('notifies a watcher when a holder releases', async () => {
    const s = backend();
    const key = 'watched';
    await s.tryAcquire(sem(key, 'a', { limit: 1 }));
    let released!: () => void;
    const fired = new Promise<void>((resolve) => {
      released = resolve;
    });
    const handle = await s.watch!('semaphore', key, released);
    await s.release(sem(key, 'a'));
    await fired;
    await handle.close();
  });

  it('rejects with LockClosedError after close and leaves nothing behind', async () => {
    const b = etcdBackend({ client, prefix });
    const s = b.shared!;
    await s.tryAcquire(sem('closing', 'a', { limit: 1 }));
    const waiting = s.waitAcquire!({
      ...sem('closing', 'b', { limit: 1, queue: true }),
      timeoutMs: 30_000,
      signal: new AbortController().signal,
    });
    await waitUntil(async () => (await keysOf('sem/closing')).length === 2);
    const closed = expect(waiting).rejects.toSatisfy(LockClosedError.isInstance);
    await b.close();
    await closed;
    await expect(s.tryAcquire(sem('closing', 'c'))).rejects.toSatisfy(LockClosedError.isInstance);
    expect(await keysOf('sem/closing')).toHaveLength(0);
  });
});
