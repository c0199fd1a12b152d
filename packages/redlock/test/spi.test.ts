import {
  createLockClient,
  LockArgumentError,
  type LockBackend,
  LockBackendError,
  LockClosedError,
} from '@dlock/lock-core';
import { redisBackend } from '@dlock/lock-redis';
import { lockKeys } from '@dlock/lock-redis/internals';
import { requireRedisBinaries, waitUntil } from '@dlock/test-utils';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBackend, type RedlockClientLike, redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const PREFIX = 'spi:';

describe.skipIf(!binaries.available)('redlock SPI semantics over 5 nodes', () => {
  let nodes: RedisNodes;
  let clients: RedlockClientLike[];
  const backends: LockBackend[] = [];
  const newBackend = async (options: { driftFactor?: number } = {}) => {
    const backend = redlockBackend({
      clients: await nodes.clients(),
      prefix: PREFIX,
      nodeTimeoutMs: 200,
      ...options,
    });
    backends.push(backend);
    return backend;
  };
  /** lock-redis's own backend on one node: to plant or remove state on that node only. */
  const single = (index: number) => {
    const backend = redisBackend({ client: clients[index]!, prefix: PREFIX });
    backends.push(backend);
    return backend;
  };

  beforeAll(async () => {
    nodes = await startRedisNodes(5);
    clients = await nodes.clients();
  });
  afterAll(async () => {
    await Promise.allSettled(backends.map((b) => b.close()));
    await nodes?.dispose();
  });

  it('grants with a validity shrunk by the drift term, and expiresAt never later', async () => {
    const backend = await newBackend({ driftFactor: 0.2 });
    const grant = await backend.tryAcquire({ key: 'drift', owner: 'o', ttlMs: 1_000 });
    expect(grant.acquired).toBe(true);
    // ttl - elapsed - (ttl * 0.2 + 2): at most 798 ms, and the round trip took something.
    expect(grant.acquired && grant.ttlMs).toBeLessThanOrEqual(798);
    expect(grant.acquired && grant.ttlMs).toBeGreaterThan(0);
    await backend.release({ key: 'drift', owner: 'o' });

    const locks = createLockClient(await newBackend({ driftFactor: 0.2 }), { ttlMs: 1_000 });
    const before = Date.now();
    const lock = await locks.acquire('drift-client');
    expect(lock.expiresAt).toBeLessThanOrEqual(before + 798 + 1); // +1: toEpoch rounds
    await lock.release();
    await locks.close();
  });

  it('never returns a lock whose validity is already spent, and leaves nothing behind', async () => {
    const backend = await newBackend();
    // 1 ms TTL: the drift allowance alone (2 ms) exceeds it.
    const error = await backend
      .tryAcquire({ key: 'spent', owner: 'o', ttlMs: 1 })
      .catch((e: unknown) => e);
    expect(LockBackendError.isInstance(error)).toBe(true);
    expect(String((error as Error).cause)).toMatch(/validity was spent/);
    expect((await nodes.keys(`${PREFIX}*:lock:spent`)).flat()).toEqual([]);
    const locks = createLockClient(backend);
    await expect(locks.acquire('spent', { ttlMs: 1, waitTimeoutMs: 100 })).rejects.toSatisfy(
      LockBackendError.isInstance,
    );
  });

  it('re-enters only with a majority of re-entries, keeping the token', async () => {
    const backend = await newBackend();
    const first = await backend.tryAcquire({ key: 'reenter', owner: 'o', ttlMs: 5_000 });
    const again = await backend.tryAcquire({ key: 'reenter', owner: 'o', ttlMs: 5_000 });
    expect(first.acquired && again.acquired).toBe(true);
    if (!first.acquired || !again.acquired) return;
    expect(again.reentered).toBe(true);
    expect(again.fencingToken).toBe(first.fencingToken);
    expect((await backend.inspect('reenter'))?.count).toBe(2);
    expect(await backend.release({ key: 'reenter', owner: 'o' })).toBe('decremented');
    expect(await backend.release({ key: 'reenter', owner: 'o' })).toBe('released');
    expect(await backend.release({ key: 'reenter', owner: 'o' })).toBe('not-held');
  });

  it('keeps fencing tokens strictly increasing when per-node counters have drifted apart', async () => {
    const backend = await newBackend();
    const key = 'fence-drift';
    const fence = lockKeys(PREFIX, key).fence;
    // Node 0's counter is an hour ahead of every node's time floor (it issued tokens while its
    // clock was an hour fast, say): only the raised counters can keep the next majority above it.
    const node0 = clients[0] as unknown as Redis;
    const [sec = 0, usec = 0] = await node0.time();
    const ahead = BigInt(sec) * 1_000_000n + BigInt(usec) + 3_600_000_000n;
    await node0.set(fence, String(ahead));
    const first = await backend.tryAcquire({ key, owner: 'a', ttlMs: 5_000 });
    expect(first.acquired && first.fencingToken).toBe(ahead + 1n);
    expect(await backend.release({ key, owner: 'a' })).toBe('released');
    // Nodes 0 and 1 now refuse (another owner squats there): the next majority is 2, 3, 4.
    for (const i of [0, 1]) {
      expect((await single(i).tryAcquire({ key, owner: 'squatter', ttlMs: 5_000 })).acquired).toBe(
        true,
      );
    }
    const second = await backend.tryAcquire({ key, owner: 'b', ttlMs: 5_000 });
    expect(second.acquired).toBe(true);
    // Without raising the lagging counters after the first grant this would be about an hour
    // below the first token (the nodes' time floors).
    expect(second.acquired && second.fencingToken).toBeGreaterThan(ahead + 1n);
    await backend.release({ key, owner: 'b' });
    for (const i of [0, 1]) await single(i).release({ key, owner: 'squatter' });
  });

  it('refuses while another owner holds a majority, and undoes its partial grants', async () => {
    const backend = await newBackend();
    const key = 'minority';
    for (const i of [0, 1, 2]) await single(i).tryAcquire({ key, owner: 'other', ttlMs: 5_000 });
    const result = await backend.tryAcquire({ key, owner: 'me', ttlMs: 5_000 });
    expect(result.acquired).toBe(false);
    expect(!result.acquired && result.retryAfterMs).toBeGreaterThan(0);
    // Nodes 3 and 4 granted `me` a minority; the attempt gave both back.
    for (const i of [3, 4]) expect(await single(i).inspect(key)).toBeNull();
    expect((await backend.inspect(key))?.owner).toBe('other');
    for (const i of [0, 1, 2]) await single(i).release({ key, owner: 'other' });
  });

  it('release answers not-held without throwing when a majority already expired it', async () => {
    const backend = await newBackend();
    const key = 'expired-majority';
    await backend.tryAcquire({ key, owner: 'o', ttlMs: 5_000 });
    for (const i of [0, 1, 2]) await single(i).forceRelease!(key);
    expect(await backend.inspect(key)).toBeNull();
    expect(await backend.release({ key, owner: 'o' })).toBe('not-held');
    expect(await backend.release({ key, owner: 'o' })).toBe('not-held');
    // A minority already expired: the majority still frees it.
    await backend.tryAcquire({ key, owner: 'p', ttlMs: 5_000 });
    for (const i of [3, 4]) await single(i).forceRelease!(key);
    expect(await backend.release({ key, owner: 'p' })).toBe('released');
    expect((await nodes.keys(`${PREFIX}*:lock:${key}`)).flat()).toEqual([]);
  });

  it('extend resolves false once the majority is lost, and the lock signal aborts', async () => {
    const locks = createLockClient(await newBackend(), { ttlMs: 2_000 });
    const lock = await locks.acquire('extend-lost', { autoExtend: false });
    const before = Date.now();
    await lock.extend();
    // The estimate ends inside Redlock's validity (drift: 1% of 2 s + 2 ms), not at the full TTL.
    expect(lock.expiresAt).toBeLessThanOrEqual(Date.now() + 2_000 - 22);
    expect(lock.expiresAt).toBeGreaterThan(before + 1_000);
    for (const i of [0, 1, 2]) await single(i).forceRelease!('extend-lost');
    await expect(lock.extend()).rejects.toMatchObject({ code: 'DLOCK_NOT_HELD' });
    expect(lock.signal.aborted).toBe(true);
    expect(await lock.release()).toBe(false);
    await locks.close();
  });

  it('extendMany renews many locks in one pipeline per node, judging each by majority', async () => {
    const backend = await newBackend();
    await backend.tryAcquire({ key: 'batch-a', owner: 'o', ttlMs: 5_000 });
    await backend.tryAcquire({ key: 'batch-b', owner: 'o', ttlMs: 5_000 });
    for (const i of [0, 1, 2]) await single(i).forceRelease!('batch-b');
    expect(backend.capabilities.batchExtend).toBe(true);
    const [renewed, ...refused] = await backend.extendMany!([
      { key: 'batch-a', owner: 'o', ttlMs: 8_000 },
      { key: 'batch-a', owner: 'someone-else', ttlMs: 8_000 },
      { key: 'batch-b', owner: 'o', ttlMs: 8_000 },
      { key: 'batch-never', owner: 'o', ttlMs: 8_000 },
    ]);
    expect(refused).toEqual([false, false, false]);
    // Renewed with the validity left: the TTL less the round trip and the drift allowance.
    const { ttlMs } = renewed as { ttlMs: number };
    expect(ttlMs).toBeLessThanOrEqual(8_000 - 82); // drift: 1% of 8 s + 2 ms
    expect(ttlMs).toBeGreaterThan(7_000);
    expect((await backend.inspect('batch-a'))?.ttlMs).toBeGreaterThan(5_000);
    expect(await backend.extendMany!([])).toEqual([]);
    await backend.release({ key: 'batch-a', owner: 'o' });
    await backend.release({ key: 'batch-b', owner: 'o' });
  });

  it('wakes a watcher once per release, not once per node', async () => {
    const holder = await newBackend();
    const watcher = await newBackend();
    await holder.tryAcquire({ key: 'watched', owner: 'o', ttlMs: 5_000 });
    let woken = 0;
    const handle = await watcher.watch!('watched', () => woken++);
    // A refused attempt flags the key on the nodes: only then does a release publish.
    const refused = await watcher.tryAcquire({ key: 'watched', owner: 'w', ttlMs: 5_000 });
    expect(refused.acquired).toBe(false);
    await holder.release({ key: 'watched', owner: 'o' });
    await waitUntil(() => woken > 0, { timeoutMs: 2_000, message: 'release event' });
    // Every node published it; the copies from the other four nodes are coalesced.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(woken).toBe(1);
    // A second release is a new event.
    await holder.tryAcquire({ key: 'watched', owner: 'o', ttlMs: 5_000 });
    expect((await watcher.tryAcquire({ key: 'watched', owner: 'w', ttlMs: 5_000 })).acquired).toBe(
      false,
    );
    await holder.release({ key: 'watched', owner: 'o' });
    await waitUntil(() => woken > 1, { timeoutMs: 2_000, message: 'second release event' });
    await handle.close();
  });

  it('forceRelease deletes the lock on every node and keeps tokens increasing', async () => {
    const backend = await newBackend();
    const first = await backend.tryAcquire({ key: 'force', owner: 'o', ttlMs: 5_000 });
    expect(await backend.forceRelease!('force')).toBe(true);
    expect(await backend.forceRelease!('force')).toBe(false);
    const next = await backend.tryAcquire({ key: 'force', owner: 'p', ttlMs: 5_000 });
    expect(first.acquired && next.acquired && next.fencingToken > first.fencingToken).toBe(true);
    await backend.release({ key: 'force', owner: 'p' });
  });

  it('close() leaves the user clients open', async () => {
    const own = await nodes.clients();
    const backend = redlockBackend({ clients: own, prefix: PREFIX });
    const handle = await backend.watch!('close-check', () => {});
    await handle.close();
    await backend.close();
    await backend.close();
    for (const client of own)
      expect(await (client as unknown as { ping(): Promise<string> }).ping()).toBe('PONG');
  });

  describe('connectBackend (connect("redlock:h1:p1,h2:p2,…"))', () => {
    it('creates one client per node from the URL, reads options, and closes them', async () => {
      const list = nodes.servers.map((s) => `127.0.0.1:${s.port}`).join(',');
      const url = new URL(`redlock:${list}?prefix=${encodeURIComponent(PREFIX)}&nodeTimeoutMs=500`);
      const backend = await connectBackend(url, { driftFactor: 0.05 });
      const grant = await backend.tryAcquire({ key: 'via-url', owner: 'o', ttlMs: 1_000 });
      // 1000 - elapsed - (1000 * 0.05 + 2): the driftFactor option arrived.
      expect(grant.acquired && grant.ttlMs).toBeLessThanOrEqual(948);
      const peer = await newBackend();
      expect(await peer.inspect('via-url')).toMatchObject({ owner: 'o' });
      expect(await backend.release({ key: 'via-url', owner: 'o' })).toBe('released');
      await backend.close();
      await expect(backend.inspect('via-url')).rejects.toSatisfy(LockClosedError.isInstance);
    });

    it('rejects other schemes, missing nodes and bad options', async () => {
      const isArgument = (e: unknown) => LockArgumentError.isInstance(e);
      await expect(connectBackend(new URL('redis://x'), {})).rejects.toSatisfy(isArgument);
      await expect(connectBackend(new URL('redlock:'), {})).rejects.toSatisfy(isArgument);
      await expect(connectBackend(new URL('redlock:a:1,b:99999,c'), {})).rejects.toSatisfy(
        isArgument,
      );
      await expect(
        connectBackend(new URL('redlock:a,b,c?nodeTimeoutMs=soon'), {}),
      ).rejects.toSatisfy(isArgument);
    });
  });
});
