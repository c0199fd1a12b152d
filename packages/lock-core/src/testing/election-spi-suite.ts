/**
 * The adapter-level suite for leader elections: the contract of `ElectionBackend` in
 * `backend.ts`, checked directly on a backend's methods, as `runSharedSpiSuite` checks the
 * shared keys'. A backend without `election` passes without checking anything; scenarios for a
 * capability it does not declare (`watch`, `batchExtend`, `nativeWait`, a candidate queue) are
 * skipped inside the test, so every adapter runs the same list.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SPI_SUITE_KEYS } from './backend-spi-suite.js';
import {
  campaignRequest as campaign,
  createElectionSpiContext,
  type ElectionSpiSuiteOptions,
  granted,
  newOwner,
  refused,
} from './election-spi-context.js';
import { eventually } from './kit.js';
import { assertClosedCalls, codeLikeKeys } from './spi-run.js';
import { electionQueueSuite } from './suite-election-queue.js';

export type { ElectionSpiSuiteOptions } from './election-spi-context.js';

export function runElectionSpiSuite(options: ElectionSpiSuiteOptions): void {
  const { describe, beforeAll, afterAll } = options.runner;
  const ctx = createElectionSpiContext(options);
  const { test } = ctx;

  describe(`dlock election SPI: ${options.name}`, () => {
    afterAll(async () => {
      await ctx.closeAll();
    });
    beforeAll(async () => {
      await ctx.backend();
    });

    test('declares election capabilities that match its methods', async () => {
      const e = await ctx.election();
      if (!e) return;
      const c = e.capabilities;
      assert.equal(typeof e.watch === 'function', c.watch, 'watch() iff capability watch');
      assert.equal(
        typeof e.waitCampaign === 'function',
        c.nativeWait,
        'waitCampaign() iff capability nativeWait',
      );
      assert.equal(
        typeof e.extendMany === 'function',
        c.batchExtend,
        'extendMany() iff capability batchExtend',
      );
    });

    test('at most one leader: a rival is refused, leader() reports the first with its value', async () => {
      const a = await ctx.election();
      const b = await ctx.election();
      if (!a || !b) return;
      const k = ctx.key('one');
      const first = campaign(k);
      const grant = await a.campaign(first);
      granted(grant, 'first campaign');
      assert.equal(grant.reentered, false);
      assert.ok(grant.fencingToken > 0n, 'a term is positive');
      const rival = await b.campaign(campaign(k));
      refused(rival, 'rival while a leader lives');
      if (!rival.acquired && rival.retryAfterMs !== undefined) {
        // One millisecond over: a backend whose expiry is the first millisecond the lease no
        // longer covers (SQLite's `expires_at > now`) answers ttl + 1 within the grant's own ms.
        assert.ok(rival.retryAfterMs <= 10_001, 'retryAfterMs bounded by the leader lease');
      }
      const state = await b.leader(k);
      assert.equal(state?.owner, first.owner);
      assert.equal(state?.value, first.value);
      assert.equal(state?.term, grant.fencingToken);
      assert.ok(state !== null && state.ttlMs > 0 && state.ttlMs <= 10_000, 'remaining lease');
      assert.equal(await a.resign(first), 'released');
      assert.equal(await b.leader(k), null, 'no leader after resign');
    });

    test('terms strictly increase across resign, expiry and re-grant', async () => {
      const e = await ctx.election();
      if (!e) return;
      const k = ctx.key('terms');
      const terms: bigint[] = [];
      const one = campaign(k);
      const g1 = await e.campaign(one);
      granted(g1);
      terms.push(g1.fencingToken);
      assert.equal(await e.resign(one), 'released');
      const two = campaign(k, newOwner(), { ttlMs: ctx.shortTtl });
      const g2 = await e.campaign(two);
      granted(g2);
      terms.push(g2.fencingToken);
      await ctx.lapse(ctx.shortTtl, 'the short leader expires', async () => !(await e.leader(k)));
      assert.equal(await e.resign(two), 'not-held', 'an expired leader cannot resign');
      const three = campaign(k);
      const g3 = await e.campaign(three);
      granted(g3, 'granted once the leader expired');
      terms.push(g3.fencingToken);
      // The same owner asking again after its leadership ended gets a fresh term too.
      assert.equal(await e.resign(three), 'released');
      const g4 = await e.campaign(three);
      granted(g4);
      terms.push(g4.fencingToken);
      for (let i = 1; i < terms.length; i++) {
        assert.ok(
          terms[i]! > terms[i - 1]!,
          `term ${i} (${terms[i]}) > term ${i - 1} (${terms[i - 1]})`,
        );
      }
      await e.resign(three);
    });

    test('terms stay above every earlier term after the server forgot the counter', async () => {
      const e = await ctx.election();
      if (!e || !options.loseTermState) return;
      const k = ctx.key('lost-terms');
      let last = 0n;
      for (let i = 0; i < 3; i++) {
        const r = campaign(k);
        const g = await e.campaign(r);
        granted(g);
        assert.ok(g.fencingToken > last, `term ${g.fencingToken} after ${last}`);
        last = g.fencingToken;
        assert.equal(await e.resign(r), 'released');
        await options.loseTermState(k);
      }
    });

    test('re-campaign by the leader re-enters with the same term and proclaims the new value', async () => {
      const e = await ctx.election();
      if (!e) return;
      const k = ctx.key('recampaign');
      const owner = newOwner();
      const g1 = await e.campaign(campaign(k, owner, { value: 'first' }));
      granted(g1);
      const g2 = await e.campaign(campaign(k, owner, { value: 'second' }));
      granted(g2, 're-campaign');
      assert.equal(g2.reentered, true);
      assert.equal(g2.fencingToken, g1.fencingToken, 'same term');
      const state = await e.leader(k);
      assert.equal(state?.value, 'second', 'the re-campaign proclaimed its value');
      assert.equal(state?.term, g1.fencingToken);
      assert.equal(await e.resign({ key: k, owner }), 'decremented');
      assert.equal((await e.leader(k))?.owner, owner, 'still leads after one resign of two');
      assert.equal(await e.resign({ key: k, owner }), 'released');
      assert.equal(await e.leader(k), null);
    });

    test('proclaim is owner-checked, keeps the term, and fails for anyone but the live leader', async () => {
      const a = await ctx.election();
      const b = await ctx.election();
      if (!a || !b) return;
      const k = ctx.key('proclaim');
      const leader = campaign(k);
      const g = await a.campaign(leader);
      granted(g);
      assert.equal(await a.proclaim({ key: k, owner: leader.owner, value: 'changed ✓' }), true);
      const state = await b.leader(k);
      assert.equal(state?.value, 'changed ✓');
      assert.equal(state?.term, g.fencingToken, 'proclaim keeps the term');
      const other = newOwner();
      assert.equal(await b.proclaim({ key: k, owner: other, value: 'usurper' }), false);
      assert.equal(await b.resign({ key: k, owner: other }), 'not-held');
      assert.equal(await b.extend({ key: k, owner: other, ttlMs: 10_000 }), false);
      assert.equal((await b.leader(k))?.value, 'changed ✓', 'refused calls changed nothing');
      assert.equal(await a.resign(leader), 'released');
      assert.equal(await a.proclaim({ key: k, owner: leader.owner, value: 'late' }), false);
      assert.equal(await a.leader(k), null, 'a refused proclaim creates no leader');
    });

    test('a deposed (expired) leader cannot proclaim, renew or resign; the next leader is granted', async () => {
      const a = await ctx.election();
      const b = await ctx.election();
      if (!a || !b) return;
      const k = ctx.key('deposed');
      const old = campaign(k, newOwner(), { ttlMs: ctx.shortTtl });
      const g1 = await a.campaign(old);
      granted(g1);
      await ctx.lapse(ctx.shortTtl, 'the leader expires', async () => !(await b.leader(k)));
      const next = campaign(k);
      const g2 = await b.campaign(next);
      granted(g2, 'granted after the expiry');
      assert.ok(g2.fencingToken > g1.fencingToken);
      assert.equal(await a.proclaim({ key: k, owner: old.owner, value: 'stale' }), false);
      assert.equal(await a.extend({ key: k, owner: old.owner, ttlMs: 10_000 }), false);
      assert.equal(await a.resign(old), 'not-held');
      const state = await a.leader(k);
      assert.equal(state?.owner, next.owner);
      assert.equal(state?.value, next.value, 'the new leader keeps its value');
      await b.resign(next);
    });

    test('extend renews the leader lease; it never re-creates an expired leadership', async () => {
      const e = await ctx.election();
      if (!e) return;
      const k = ctx.key('extend');
      const r = campaign(k, newOwner(), { ttlMs: ctx.shortTtl });
      granted(await e.campaign(r));
      const renewed = await e.extend({ ...r, ttlMs: 10_000 });
      assert.notEqual(renewed, false, 'the leader renews');
      assert.ok(((await e.leader(k))?.ttlMs ?? 0) > ctx.shortTtl, 'the lease got longer');
      if (e.extendMany) {
        const [mine, stranger] = await e.extendMany([
          { ...r, ttlMs: 10_000 },
          { key: k, owner: newOwner(), ttlMs: 10_000 },
        ]);
        assert.notEqual(mine, false);
        assert.equal(stranger, false);
      }
      assert.equal(await e.resign(r), 'released');
      assert.equal(await e.extend({ ...r, ttlMs: 10_000 }), false, 'no renewal after resign');
      assert.equal(await e.leader(k), null);
    });

    test('watch reports a grant, a proclaim and a resign', async () => {
      const a = await ctx.election();
      const b = await ctx.election();
      if (!a?.watch || !b) return;
      const k = ctx.key('watch');
      let events = 0;
      const handle = await a.watch(k, () => {
        events++;
      });
      try {
        const r = campaign(k);
        granted(await b.campaign(r));
        await eventually('an event for the grant', () => events >= 1, 5_000);
        let seen = events;
        assert.equal(await b.proclaim({ ...r, value: 'new' }), true);
        await eventually('an event for the proclaim', () => events > seen, 5_000);
        seen = events;
        assert.equal(await b.resign(r), 'released');
        await eventually('an event for the resign', () => events > seen, 5_000);
      } finally {
        await handle.close();
        await handle.close();
      }
    });

    test('an election name is its own namespace: the mutex and shared keys of that name are apart', async () => {
      const backend = await ctx.backend();
      const e = backend.election;
      if (!e) return;
      const k = ctx.key('namespaces');
      const holder = newOwner();
      granted(await backend.tryAcquire({ key: k, owner: holder, ttlMs: 10_000 }), 'mutex');
      const r = campaign(k);
      granted(await e.campaign(r), 'the election ignores the mutex of the same name');
      assert.equal((await backend.inspect(k))?.owner, holder, 'the mutex is untouched');
      assert.equal(await e.resign(r), 'released');
      assert.equal(await backend.release({ key: k, owner: holder }), 'released');
    });

    test('names and values are data: quotes, Lua, SQL, globs, emoji; a 4 KiB value', async () => {
      const a = await ctx.election();
      const b = await ctx.election();
      if (!a || !b) return;
      const suffix = randomUUID().slice(0, 8);
      const value = `x', ARGV[1]) redis.call('DEL', KEYS[1]) --'; DELETE FROM t; 🔒${suffix}`;
      for (const k of codeLikeKeys(SPI_SUITE_KEYS, options.keys)) {
        const what = JSON.stringify(k);
        const r = campaign(k, newOwner(), { value });
        granted(await a.campaign(r), what);
        refused(await b.campaign(campaign(k)), what);
        const state = await b.leader(k);
        assert.equal(state?.value, value, what);
        assert.equal(state?.owner, r.owner, what);
        assert.equal(await a.resign(r), 'released', what);
      }
      const k = ctx.key('big');
      const big = `${'é'.repeat(2047)}xa`;
      assert.equal(Buffer.byteLength(big), 4096);
      const r = campaign(k, newOwner(), { value: big });
      granted(await a.campaign(r));
      assert.equal((await b.leader(k))?.value, big, 'a 4 KiB value comes back whole');
      await a.resign(r);
    });

    describe('candidates', () => electionQueueSuite(ctx));

    test('a closed backend rejects every election operation with LockClosedError, never synchronously', async () => {
      const backend = await options.createBackend();
      const e = backend.election;
      await backend.close();
      if (!e) return;
      const k = ctx.key('closed');
      const r = campaign(k);
      const calls: [string, () => Promise<unknown>][] = [
        ['campaign', () => e.campaign(r)],
        ['extend', () => e.extend(r)],
        ['proclaim', () => e.proclaim({ ...r, value: 'v' })],
        ['resign', () => e.resign(r)],
        ['abandon', () => e.abandon(r)],
        ['leader', () => e.leader(k)],
      ];
      if (e.extendMany) calls.push(['extendMany', () => e.extendMany!([r])]);
      if (e.watch) calls.push(['watch', () => e.watch!(k, () => {})]);
      if (e.waitCampaign) {
        const signal = new AbortController().signal;
        calls.push(['waitCampaign', () => e.waitCampaign!({ ...r, timeoutMs: 1_000, signal })]);
      }
      await assertClosedCalls(calls);
    });
  });
}
