import { type LockBackend, LockBackendError } from '@dlock/lock-core';
import type { CampaignRequest, ElectionBackend } from '@dlock/lock-core/spi';
import { requireRedisBinaries, waitUntil } from '@dlock/test-utils';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { electionKeys } from '../src/election/election-keys.js';
import { redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const PREFIX = 'election:';

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

describe.skipIf(!binaries.available)('redlock elections over 5 nodes', () => {
  let nodes: RedisNodes;
  let clients: Redis[];
  const backends: LockBackend[] = [];
  const newBackend = async () => {
    const backend = redlockBackend({
      clients: await nodes.clients(),
      prefix: PREFIX,
      nodeTimeoutMs: 200,
    });
    backends.push(backend);
    return backend;
  };
  const election = async () => (await newBackend()).election!;
  /** The leader hash of `name` on every node. */
  const hashes = (name: string) =>
    Promise.all(clients.map((c) => c.hgetall(electionKeys(PREFIX, name).leader)));

  beforeAll(async () => {
    nodes = await startRedisNodes(5);
    clients = (await nodes.clients()) as unknown as Redis[];
  });
  afterAll(async () => {
    await Promise.allSettled(backends.map((b) => b.close()));
    await nodes?.dispose();
  });

  it('keeps a hash {owner, value, term, count} on every node; a resign leaves only the term counter', async () => {
    const e = await election();
    const grant = await e.campaign(campaign('layout', 'a', { value: 'host-a:80' }));
    expect(grant).toMatchObject({ acquired: true, reentered: false });
    expect(await hashes('layout')).toEqual(
      Array(5).fill({ owner: 'a', value: 'host-a:80', term: String(term(grant)), count: '1' }),
    );
    expect(await e.leader('layout')).toMatchObject({
      owner: 'a',
      value: 'host-a:80',
      term: term(grant),
    });
    expect(await e.resign({ key: 'layout', owner: 'a' })).toBe('released');
    expect(await e.leader('layout')).toBeNull();
    const left = await Promise.all(clients.map((c) => c.keys(`${PREFIX}*layout`)));
    expect(left).toEqual(Array(5).fill([electionKeys(PREFIX, 'layout').fence]));
  });

  it('is a namespace of its own: election "x" and lock "x" never see one another', async () => {
    const backend = await newBackend();
    expect(await backend.tryAcquire({ key: 'x', owner: 'l', ttlMs: 10_000 })).toMatchObject({
      acquired: true,
    });
    expect(await backend.election!.campaign(campaign('x', 'e'))).toMatchObject({ acquired: true });
    expect(await backend.election!.resign({ key: 'x', owner: 'e' })).toBe('released');
    expect((await backend.inspect('x'))?.owner).toBe('l');
    await backend.release({ key: 'x', owner: 'l' });
  });

  it('one leader: a rival is refused; a re-campaign re-enters with the same term and proclaims its value', async () => {
    const [a, b] = [await election(), await election()];
    const t = term(await a.campaign(campaign('one', 'a', { value: 'first' })));
    const rival = await b.campaign(campaign('one', 'b'));
    expect(rival.acquired).toBe(false);
    expect(!rival.acquired && rival.retryAfterMs).toBeLessThanOrEqual(10_000);
    const again = await a.campaign(campaign('one', 'a', { value: 'second' }));
    expect(again).toMatchObject({ acquired: true, reentered: true, fencingToken: t });
    expect(await b.leader('one')).toMatchObject({ owner: 'a', value: 'second', term: t });
    expect(await b.resign({ key: 'one', owner: 'b' })).toBe('not-held');
    expect(await a.resign({ key: 'one', owner: 'a' })).toBe('decremented');
    expect(await a.resign({ key: 'one', owner: 'a' })).toBe('released');
    // Nothing is queued: abandon has nothing to remove.
    expect(await b.abandon({ key: 'one', owner: 'b' })).toBe(false);
  });

  it('the term is the largest of the majority, and the nodes behind are raised to it (hash and counter)', async () => {
    const e = await election();
    const keys = electionKeys(PREFIX, 'raised');
    const first = term(await e.campaign(campaign('raised', 'a')));
    await e.resign({ key: 'raised', owner: 'a' });
    // Node 0's counter is far ahead (it granted in attempts the others missed).
    const ahead = first + 10_000_000_000n;
    await clients[0]!.set(keys.fence, String(ahead));
    const next = term(await e.campaign(campaign('raised', 'b')));
    expect(next).toBe(ahead + 1n);
    expect((await hashes('raised')).map((h) => h.term)).toEqual(Array(5).fill(String(next)));
    const counters = await Promise.all(clients.map((c) => c.get(keys.fence)));
    expect(counters).toEqual(Array(5).fill(String(next)));
    expect((await e.leader('raised'))?.term).toBe(next);
    await e.resign({ key: 'raised', owner: 'b' });
  });

  it('terms strictly increase across expiry, a wiped node, a wiped majority and every node restarted empty', async () => {
    const e = await election();
    const name = 'terms';
    const next = async (owner: string, ttlMs = 10_000) =>
      term(await e.campaign(campaign(name, owner, { ttlMs })));
    const terms = [await next('short', 500)];
    await waitUntil(async () => (await e.leader(name)) === null, { timeoutMs: 10_000 });
    terms.push(await next('a'));
    await e.resign({ key: name, owner: 'a' });
    await clients[0]!.flushall();
    terms.push(await next('b'));
    await e.resign({ key: name, owner: 'b' });
    await Promise.all(clients.slice(0, 3).map((c) => c.flushall()));
    terms.push(await next('c'));
    await e.resign({ key: name, owner: 'c' });
    await Promise.all(nodes.servers.map((s) => s.restart()));
    await waitUntil(() => clients.every((c) => c.status === 'ready'), { timeoutMs: 10_000 });
    const fresh = await election();
    terms.push(term(await fresh.campaign(campaign(name, 'd'))));
    await fresh.resign({ key: name, owner: 'd' });
    for (let i = 1; i < terms.length; i++) expect(terms[i]!).toBeGreaterThan(terms[i - 1]!);
  });

  it('a leader on a minority of nodes is no leader: leader() is null and a rival wins the majority', async () => {
    const e = await election();
    const keys = electionKeys(PREFIX, 'minority');
    for (const c of clients.slice(0, 2)) {
      await c.hset(keys.leader, { owner: 'stale', value: 'old', term: '5', count: '1' });
      await c.pexpire(keys.leader, 60_000);
    }
    expect(await e.leader('minority')).toBeNull();
    const won = await e.campaign(campaign('minority', 'rival'));
    expect(won).toMatchObject({ acquired: true });
    expect(await e.leader('minority')).toMatchObject({ owner: 'rival', value: 'v-rival' });
    // The stale owner holds too few nodes to renew, proclaim or resign.
    expect(await e.extend({ key: 'minority', owner: 'stale', ttlMs: 10_000 })).toBe(false);
    expect(await e.proclaim({ key: 'minority', owner: 'stale', value: 'x' })).toBe(false);
    expect(await e.resign({ key: 'minority', owner: 'stale' })).toBe('not-held');
    await e.resign({ key: 'minority', owner: 'rival' });
    await Promise.all(clients.map((c) => c.del(keys.leader)));
  });

  it('proclaim changes the value on a majority, keeps the term; extend and extendMany are owner-checked', async () => {
    const e = await election();
    const t = term(await e.campaign(campaign('proclaim', 'a', { value: 'one' })));
    expect(await e.proclaim({ key: 'proclaim', owner: 'b', value: 'evil' })).toBe(false);
    expect(await e.proclaim({ key: 'proclaim', owner: 'a', value: 'two' })).toBe(true);
    expect(await e.leader('proclaim')).toMatchObject({ owner: 'a', value: 'two', term: t });
    const renewed = await e.extend({ key: 'proclaim', owner: 'a', ttlMs: 5_000 });
    expect(typeof renewed === 'object' && renewed.ttlMs).toBeGreaterThan(0);
    const batch = await e.extendMany!([
      { key: 'proclaim', owner: 'a', ttlMs: 5_000 },
      { key: 'proclaim', owner: 'b', ttlMs: 5_000 },
      { key: 'nobody', owner: 'a', ttlMs: 5_000 },
    ]);
    expect(batch.map((r) => r !== false)).toEqual([true, false, false]);
    await e.resign({ key: 'proclaim', owner: 'a' });
  });

  it('the watch hears a grant, a proclaim and a resign', async () => {
    const [watcher, leader] = [await election(), await election()];
    let heard = 0;
    const handle = await watcher.watch!('watched', () => heard++);
    try {
      await leader.campaign(campaign('watched', 'a'));
      await waitUntil(() => heard >= 1, { timeoutMs: 10_000 });
      const afterGrant = heard;
      await leader.proclaim({ key: 'watched', owner: 'a', value: 'new' });
      await waitUntil(() => heard > afterGrant, { timeoutMs: 10_000 });
      const afterProclaim = heard;
      await leader.resign({ key: 'watched', owner: 'a' });
      await waitUntil(() => heard > afterProclaim, { timeoutMs: 10_000 });
    } finally {
      await handle.close();
    }
  });

  it('keeps electing with two of five nodes down; with three down it is a LockBackendError, not a refusal', async () => {
    const own = (await nodes.clients()) as unknown as Redis[];
    const backend = redlockBackend({ clients: own, prefix: PREFIX, nodeTimeoutMs: 200 });
    backends.push(backend);
    const e = backend.election!;
    own[0]!.disconnect();
    own[1]!.disconnect();
    const t = term(await e.campaign(campaign('down', 'a')));
    expect(await e.leader('down')).toMatchObject({ owner: 'a', term: t });
    own[2]!.disconnect();
    await expect(e.campaign(campaign('down', 'b'))).rejects.toBeInstanceOf(LockBackendError);
    await expect(e.leader('down')).rejects.toBeInstanceOf(LockBackendError);
    await expect(e.proclaim({ key: 'down', owner: 'a', value: 'x' })).rejects.toBeInstanceOf(
      LockBackendError,
    );
    const other = await election();
    expect(await other.resign({ key: 'down', owner: 'a' })).toBe('released');
  });

  it('a failed campaign leaves nothing on the nodes that granted it', async () => {
    const e = await election();
    const keys = electionKeys(PREFIX, 'partial');
    // Three nodes are held by someone else: the two free ones grant, then give it back.
    for (const c of clients.slice(0, 3)) {
      await c.hset(keys.leader, { owner: 'other', value: 'v', term: '7', count: '1' });
      await c.pexpire(keys.leader, 60_000);
    }
    expect(await e.campaign(campaign('partial', 'a'))).toMatchObject({ acquired: false });
    const left = await hashes('partial');
    expect(left.map((h) => h.owner ?? null)).toEqual(['other', 'other', 'other', null, null]);
    await Promise.all(clients.map((c) => c.del(keys.leader)));
  });
});
