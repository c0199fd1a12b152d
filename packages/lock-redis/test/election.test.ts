import { randomBytes } from 'node:crypto';
import { type LockBackend, LockClosedError } from '@dlock/lock-core';
import type { ElectionBackend } from '@dlock/lock-core/spi';
import { runElectionConformance, runElectionSpiSuite } from '@dlock/lock-core/testing';
import {
  requireRedisBinaries,
  requireSharedRedis,
  SHARED_REDIS,
  startRedisServer,
  type TestRedisServer,
  uniquePrefix,
  waitUntil,
} from '@dlock/test-utils';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { electionKeys } from '../src/election/election-keys.js';
import { redisBackend } from '../src/index.js';
import { keySlot } from '../src/key-slot.js';
import { lockKeys } from '../src/redis-backend.js';
import { sharedKeys } from '../src/shared-keys.js';
import { useRedisCluster } from './helpers/redis-cluster.js';
import { NASTY_KEYS } from './helpers/spi-suite.js';

const redis = await requireSharedRedis();
const binaries = await requireRedisBinaries();

const owner = () => randomBytes(16).toString('hex');
let counter = 0;
const freshName = (label: string) => `el:${label}:${++counter}:${randomBytes(4).toString('hex')}`;

const electionOf = (backend: LockBackend): ElectionBackend => {
  if (!backend.election) throw new Error('the redis backend has no election');
  return backend.election;
};

async function granted(election: ElectionBackend, key: string, who: string, value = 'v') {
  const result = await election.campaign({ key, owner: who, ttlMs: 10_000, value, queue: false });
  if (!result.acquired) throw new Error(`${key}: ${who} was not granted`);
  return result;
}

/** What every deployment must do; `createBackend` gives another "process" on the same data. */
function describeElection(
  name: string,
  createBackend: () => LockBackend,
  admin: () => Redis | Cluster,
) {
  describe(`${name}: election SPI`, () => {
    const backends: LockBackend[] = [];
    const backend = () => {
      const b = createBackend();
      backends.push(b);
      return electionOf(b);
    };
    afterAll(async () => {
      await Promise.all(backends.map((b) => b.close()));
    });

    it('grants one leader with its value; a rival is refused with the lease left; terms grow past resign', async () => {
      const [a, b] = [backend(), backend()];
      const key = freshName('grant');
      const [oa, ob] = [owner(), owner()];
      expect(await a.leader(key)).toBeNull();
      const first = await granted(a, key, oa, 'host-a:1');
      expect(first).toMatchObject({ acquired: true, reentered: false, ttlMs: 10_000 });
      const seen = await b.leader(key);
      expect(seen).toMatchObject({ owner: oa, value: 'host-a:1', term: first.fencingToken });
      expect(seen!.ttlMs).toBeGreaterThan(0);
      expect(seen!.ttlMs).toBeLessThanOrEqual(10_000);
      const refused = await b.campaign({
        key,
        owner: ob,
        ttlMs: 10_000,
        value: 'host-b',
        queue: true,
      });
      expect(refused.acquired).toBe(false);
      if (refused.acquired) return;
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(await b.resign({ key, owner: ob })).toBe('not-held');
      expect(await a.resign({ key, owner: oa })).toBe('released');
      expect(await b.leader(key)).toBeNull();
      const second = await granted(b, key, ob, 'host-b');
      expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
      expect(await a.leader(key)).toMatchObject({
        owner: ob,
        value: 'host-b',
        term: second.fencingToken,
      });
    });

    it('a re-campaign re-enters with the same term and proclaims its value; resign counts down', async () => {
      const a = backend();
      const key = freshName('reenter');
      const oa = owner();
      const first = await granted(a, key, oa, 'one');
      const again = await a.campaign({ key, owner: oa, ttlMs: 20_000, value: 'two', queue: false });
      expect(again).toMatchObject({
        acquired: true,
        reentered: true,
        fencingToken: first.fencingToken,
      });
      expect((again as { ttlMs: number }).ttlMs).toBe(20_000);
      expect(await a.leader(key)).toMatchObject({ value: 'two', term: first.fencingToken });
      expect(await a.resign({ key, owner: oa })).toBe('decremented');
      expect(await a.leader(key)).toMatchObject({ owner: oa, value: 'two' });
      expect(await a.resign({ key, owner: oa })).toBe('released');
      expect(await a.resign({ key, owner: oa })).toBe('not-held');
      expect(await a.leader(key)).toBeNull();
    });

    it('proclaim is owner-checked and keeps term and expiry; extend is owner-checked and never re-creates', async () => {
      const [a, b] = [backend(), backend()];
      const key = freshName('proclaim');
      const [oa, ob] = [owner(), owner()];
      const grant = await granted(a, key, oa, 'before');
      const names = electionKeys(prefixOf(name), key);
      await admin().pexpire(names.leader, 5_000);
      expect(await b.proclaim({ key, owner: ob, value: 'usurper' })).toBe(false);
      expect(await a.proclaim({ key, owner: oa, value: 'after' })).toBe(true);
      const state = await b.leader(key);
      expect(state).toMatchObject({ owner: oa, value: 'after', term: grant.fencingToken });
      // The expiry was not pushed out by the proclaim (it is at most the 5 s set above).
      expect(state!.ttlMs).toBeLessThanOrEqual(5_000);
      expect(await b.extend({ key, owner: ob, ttlMs: 30_000 })).toBe(false);
      expect(await a.extend({ key, owner: oa, ttlMs: 30_000 })).toBe(true);
      expect((await b.leader(key))!.ttlMs).toBeGreaterThan(5_000);
      expect(
        await a.extendMany!([
          { key, owner: oa, ttlMs: 30_000 },
          { key, owner: ob, ttlMs: 30_000 },
        ]),
      ).toEqual([true, false]);
      expect(await a.resign({ key, owner: oa })).toBe('released');
      expect(await a.extend({ key, owner: oa, ttlMs: 30_000 })).toBe(false);
      expect(await a.proclaim({ key, owner: oa, value: 'ghost' })).toBe(false);
      expect(await a.leader(key)).toBeNull();
      // Only the term counter is left behind.
      expect(await admin().exists(names.leader)).toBe(0);
      expect(await admin().exists(names.fence)).toBe(1);
    });

    it('an expired leader is no leader, and the next term is larger', async () => {
      const [a, b] = [backend(), backend()];
      const key = freshName('expiry');
      const [oa, ob] = [owner(), owner()];
      const first = await a.campaign({
        key,
        owner: oa,
        ttlMs: 1_000,
        value: 'short',
        queue: false,
      });
      expect(first.acquired).toBe(true);
      await waitUntil(async () => (await b.leader(key)) === null, {
        timeoutMs: 10_000,
        message: 'lease expiry',
      });
      expect(await a.extend({ key, owner: oa, ttlMs: 10_000 })).toBe(false);
      const second = await granted(b, key, ob);
      expect(second.fencingToken).toBeGreaterThan((first as { fencingToken: bigint }).fencingToken);
      expect(await a.resign({ key, owner: oa })).toBe('not-held');
    });

    it('watch hears grants, proclaims and resignations from another client (no keyspace notifications)', async () => {
      const [watcher, leaderSide] = [backend(), backend()];
      const key = freshName('watch');
      const oa = owner();
      let calls = 0;
      const handle = await watcher.watch!(key, () => calls++);
      await granted(leaderSide, key, oa);
      await waitUntil(() => calls >= 1, { message: 'grant event' });
      const afterGrant = calls;
      expect(await leaderSide.proclaim({ key, owner: oa, value: 'new' })).toBe(true);
      await waitUntil(() => calls > afterGrant, { message: 'proclaim event' });
      const afterProclaim = calls;
      expect(await leaderSide.resign({ key, owner: oa })).toBe('released');
      await waitUntil(() => calls > afterProclaim, { message: 'resign event' });
      await handle.close();
      await handle.close();
    });

    it('has a namespace of its own: election, mutex and shared keys of one name never meet', async () => {
      const b = createBackend();
      backends.push(b);
      const key = freshName('namespace');
      const [om, oe] = [owner(), owner()];
      expect((await b.tryAcquire({ key, owner: om, ttlMs: 10_000 })).acquired).toBe(true);
      const grant = await granted(electionOf(b), key, oe);
      expect(grant.reentered).toBe(false);
      expect((await b.inspect(key))?.owner).toBe(om);
      expect((await electionOf(b).leader(key))?.owner).toBe(oe);
      expect(await electionOf(b).resign({ key, owner: om })).toBe('not-held');
      expect(await b.release({ key, owner: oe })).toBe('not-held');
      const p = prefixOf(name);
      const names = Object.values(electionKeys(p, key));
      for (const other of [
        lockKeys(p, key),
        sharedKeys(p, 'semaphore', key),
        sharedKeys(p, 'read-write', key),
      ]) {
        for (const n of Object.values(other)) expect(names).not.toContain(n);
      }
      // One slot for every name of the election (a Cluster script may touch only one).
      expect(new Set(names.map(keySlot)).size).toBe(1);
      expect(await b.release({ key, owner: om })).toBe('released');
      expect(await electionOf(b).resign({ key, owner: oe })).toBe('released');
    });

    it('takes names that look like Lua, break hash tags or are not ASCII', async () => {
      const a = backend();
      for (const key of NASTY_KEYS) {
        const oa = owner();
        const grant = await granted(a, key, oa, `value of ${key}`);
        expect(await a.leader(key)).toMatchObject({
          owner: oa,
          value: `value of ${key}`,
          term: grant.fencingToken,
        });
        expect(await a.proclaim({ key, owner: oa, value: "'); redis.call('FLUSHALL') --" })).toBe(
          true,
        );
        expect((await a.leader(key))?.value).toBe("'); redis.call('FLUSHALL') --");
        expect(await a.resign({ key, owner: oa })).toBe('released');
      }
    });

    it('queued candidates are granted in arrival order; nobody passes the head; abandon steps out', async () => {
      const [a, b, c] = [backend(), backend(), backend()];
      const key = freshName('queue');
      const [leader, early, late, quitter] = [owner(), owner(), owner(), owner()];
      await granted(a, key, leader);
      const ask = (e: ElectionBackend, who: string, queue = true) =>
        e.campaign({ key, owner: who, ttlMs: 3_000, value: who, queue });
      for (const [e, who] of [
        [b, early],
        [c, quitter],
        [a, late],
      ] as const) {
        const refused = await ask(e, who);
        expect(refused.acquired).toBe(false);
        // A queued refusal asks back within a third of its waiter lease.
        expect(!refused.acquired && refused.retryAfterMs).toBeLessThanOrEqual(1_000);
      }
      const names = electionKeys(prefixOf(name), key);
      expect(await admin().zrange(names.queue, 0, -1)).toEqual([early, quitter, late]);
      expect(await admin().pttl(names.queue)).toBeGreaterThan(0);
      expect(await a.resign({ key, owner: leader })).toBe('released');
      expect((await ask(a, late)).acquired).toBe(false);
      expect((await ask(a, owner(), false)).acquired).toBe(false);
      const first = await ask(b, early);
      expect(first).toMatchObject({ acquired: true, reentered: false });
      expect(await c.abandon({ key, owner: quitter })).toBe(true);
      expect(await c.abandon({ key, owner: quitter })).toBe(false);
      expect(await b.abandon({ key, owner: early })).toBe(false);
      expect(await b.resign({ key, owner: early })).toBe('released');
      const second = await ask(a, late);
      expect(second.acquired).toBe(true);
      expect((second as { fencingToken: bigint }).fencingToken).toBeGreaterThan(
        (first as { fencingToken: bigint }).fencingToken,
      );
      // Nothing of the queue is left once everyone was granted or stepped out.
      expect(await admin().exists(names.queue, names.queueExpiry)).toBe(0);
      expect(await a.resign({ key, owner: late })).toBe('released');
    });

    it('a candidate whose waiter lease lapsed blocks the next one only until the lease runs out', async () => {
      const [a, b] = [backend(), backend()];
      const key = freshName('lapsed');
      const [leader, gone, next] = [owner(), owner(), owner()];
      await granted(a, key, leader);
      const refused = await b.campaign({ key, owner: gone, ttlMs: 1_000, value: 'g', queue: true });
      expect(refused.acquired).toBe(false);
      expect(await a.resign({ key, owner: leader })).toBe('released');
      // The dead candidate never asks again: `next` waits at most its waiter lease.
      const ahead = await a.campaign({ key, owner: next, ttlMs: 10_000, value: 'n', queue: true });
      expect(ahead.acquired).toBe(false);
      expect(!ahead.acquired && ahead.retryAfterMs).toBeLessThanOrEqual(1_000);
      await waitUntil(
        async () =>
          (await a.campaign({ key, owner: next, ttlMs: 10_000, value: 'n', queue: true })).acquired,
        { timeoutMs: 10_000, message: 'granted once the entry lapsed' },
      );
      const again = await b.campaign({ key, owner: gone, ttlMs: 1_000, value: 'g', queue: true });
      expect(again.acquired).toBe(false);
      expect(await b.abandon({ key, owner: gone })).toBe(true);
      expect(await a.resign({ key, owner: next })).toBe('released');
    });

    it('abandon without a queue entry removes nothing; every call refuses once closed', async () => {
      const b = createBackend();
      const e = electionOf(b);
      const key = freshName('closed');
      expect(await e.abandon({ key, owner: owner() })).toBe(false);
      await b.close();
      await expect(
        e.campaign({ key, owner: owner(), ttlMs: 1_000, value: 'v', queue: false }),
      ).rejects.toBeInstanceOf(LockClosedError);
      await expect(e.leader(key)).rejects.toBeInstanceOf(LockClosedError);
      await expect(e.watch!(key, () => {})).rejects.toBeInstanceOf(LockClosedError);
    });
  });
}

/** The kits: the SPI suite (with the candidate queue) and the client-level conformance. */
function runElectionKits(
  name: string,
  createBackend: () => LockBackend | Promise<LockBackend>,
  /** Deletes the election's term counter (an evicted key, a restart without persistence). */
  loseTermState: (election: string) => Promise<unknown>,
) {
  const runner = { describe, it, beforeAll, afterAll };
  // 750 ms, not the kits' 250: a CI run on two cores stalls longer than 250 ms leaves slack.
  runElectionSpiSuite({
    name,
    createBackend,
    runner,
    candidateQueue: true,
    shortTtlMs: 750,
    loseTermState: async (election) => {
      await loseTermState(election);
    },
    keys: NASTY_KEYS,
  });
  runElectionConformance({ name, createBackend, runner, traits: { shortTtlMs: 750 } });
}

const prefixes = new Map<string, string>();
const prefixOf = (name: string): string => prefixes.get(name)!;

describe.skipIf(!redis.available)('redis standalone elections (own key prefix)', () => {
  const prefix = uniquePrefix('election');
  prefixes.set('standalone', prefix);
  const clients: Redis[] = [];
  const newClient = () => {
    const client = new Redis({ ...SHARED_REDIS });
    clients.push(client);
    return client;
  };
  afterAll(async () => {
    const cleaner = newClient();
    let cursor = '0';
    do {
      const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await cleaner.unlink(...keys);
    } while (cursor !== '0');
    await Promise.all(clients.map((c) => c.quit()));
  });
  let adminClient: Redis | undefined;
  describeElection(
    'standalone',
    () => redisBackend({ client: newClient(), prefix }),
    () => {
      adminClient ??= newClient();
      return adminClient;
    },
  );
  runElectionKits(
    'redis standalone',
    () => redisBackend({ client: newClient(), prefix }),
    (election) => newClient().del(electionKeys(prefix, election).fence),
  );
});

describe.skipIf(!binaries.available)(
  'redis cluster elections (3 masters started by the test)',
  () => {
    prefixes.set('cluster', 'el:');
    const fixture = useRedisCluster();
    const { newClient } = fixture;
    let adminClient: Cluster | undefined;
    describeElection(
      'cluster',
      () => redisBackend({ client: newClient(), prefix: 'el:' }),
      () => {
        adminClient ??= newClient();
        return adminClient;
      },
    );
    runElectionKits(
      'redis cluster',
      async () => {
        // Open the node connections up front (see cluster.test.ts): the kit's leak check counts
        // handles before and after close().
        const client = newClient();
        await client.ping();
        await Promise.all(client.nodes('master').map((node) => node.ping()));
        return redisBackend({ client, prefix: 'el:' });
      },
      (election) => newClient().del(electionKeys('el:', election).fence),
    );
  },
);

describe.skipIf(!binaries.available)('election terms across a restart (own redis-servers)', () => {
  const servers: TestRedisServer[] = [];
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(servers.map((s) => s.dispose()));
  });

  for (const [label, args] of [
    ['with persistence (AOF, fsync always)', ['--appendonly', 'yes', '--appendfsync', 'always']],
    ['without persistence (the counter is gone: the time floor)', []],
  ] as const) {
    it(`a term after a restart ${label} exceeds every earlier term`, async () => {
      const server = await startRedisServer({ args });
      servers.push(server);
      const client = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
      client.on('error', () => {}); // the restart makes these expected
      clients.push(client);
      const backend = redisBackend({ client, prefix: 'r:' });
      const election = electionOf(backend);
      const o = owner();
      const before = await granted(election, 'restart', o);
      expect(await election.resign({ key: 'restart', owner: o })).toBe('released');
      await server.restart();
      await waitUntil(async () => (await client.ping().catch(() => '')) === 'PONG', {
        message: 'reconnected to the restarted server',
      });
      expect(await client.exists(electionKeys('r:', 'restart').fence)).toBe(
        args.length > 0 ? 1 : 0,
      );
      const after = await granted(election, 'restart', owner());
      expect(after.fencingToken).toBeGreaterThan(before.fencingToken);
      await backend.close();
    });
  }
});
