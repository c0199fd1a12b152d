/**
 * Client-level elections through `createLockClient`: leadership, terms, failover after resign
 * and after expiry, abort and timeout leaving nothing, deposed leaders, the leader's signal.
 */
import assert from 'node:assert/strict';
import type { ElectionBackend } from '../backend.js';
import {
  LockArgumentError,
  LockClosedError,
  LockLostError,
  LockNotHeldError,
  LockTimeoutError,
} from '../errors.js';
import type { Leadership, LockClient } from '../types.js';
import type { Kit } from './kit.js';

/** The raw election operations of a fresh backend (owner tokens unreduced), if it has any. */
export async function rawElection(kit: Kit): Promise<ElectionBackend | undefined> {
  return (await kit.backend()).election;
}

/** Resolves once `signal` aborts (an event, not a poll). */
export function aborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true }),
  );
}

/** Deposes the current leader of `name` behind its client's back, as a lost lease would. */
export async function depose(kit: Kit, name: string): Promise<void> {
  const raw = (await rawElection(kit))!;
  const state = await raw.leader(name);
  assert.ok(state, 'a leader to depose');
  assert.equal(await raw.resign({ key: name, owner: state.owner }), 'released');
}

export function electionClientSuite(kit: Kit): void {
  const { it } = kit.runner;
  const test = (name: string, fn: () => Promise<void>) => it(name, fn, kit.timeoutMs);
  const clientsIfElection = async (n: number): Promise<LockClient[] | undefined> => {
    if (!(await rawElection(kit))) return undefined;
    return Promise.all(Array.from({ length: n }, () => kit.client()));
  };

  test('campaign leads: term, value, held; leader() reports the value, term and public holder', async () => {
    const clients = await clientsIfElection(2);
    if (!clients) return;
    const [a, b] = clients as [LockClient, LockClient];
    const name = kit.key('lead');
    assert.equal(await b.election(name, { value: 'b' }).leader(), null, 'nobody leads yet');
    const leadership = await a.election(name, { value: 'host-a:8080' }).campaign();
    assert.equal(leadership.name, name);
    assert.equal(leadership.value, 'host-a:8080');
    assert.equal(leadership.held, true);
    assert.equal(leadership.signal.aborted, false);
    assert.ok(leadership.term > 0n);
    assert.ok(leadership.expiresAt > Date.now() - 1_000);
    const info = await b.election(name, { value: 'b' }).leader();
    assert.equal(info?.value, 'host-a:8080');
    assert.equal(info?.term, leadership.term);
    assert.ok(info && !info.holder.includes('#'), 'only the public part of the owner');
    assert.ok(info && info.expiresAt > Date.now() - 1_000);
    assert.equal(await leadership.resign(), true);
    assert.equal(leadership.held, false);
    assert.equal(await leadership.resign(), false, 'a second resign is a no-op');
    assert.equal(await b.election(name, { value: 'b' }).leader(), null);
  });

  test('at most one leader; failover after resign is immediate (the waiting campaign resolves by event)', async () => {
    const clients = await clientsIfElection(3);
    if (!clients) return;
    const name = kit.key('failover-resign');
    const first = await clients[0]!.election(name, { value: 'a' }).campaign();
    const rivals = clients
      .slice(1)
      .map((c, i) =>
        c.election(name, { value: `r${i}` }).campaign({ waitTimeoutMs: kit.timeoutMs }),
      );
    const settled: Leadership[] = [];
    for (const rival of rivals) void rival.then((l) => settled.push(l));
    assert.equal(await first.resign(), true);
    const next = await Promise.race(rivals);
    assert.ok(next.term > first.term, 'terms increase');
    assert.equal(settled.length <= 1, true, 'at most one rival leads');
    const info = await clients[0]!.election(name, { value: 'a' }).leader();
    assert.equal(info?.term, next.term);
    assert.equal(info?.value, next.value);
    await next.resign();
    const last = (await Promise.all(rivals)).find((l) => l !== next)!;
    assert.ok(last.term > next.term);
    await last.resign();
  });

  test('many campaigns of several clients: never two leaders at once, terms increase in grant order', async () => {
    const clients = await clientsIfElection(3);
    if (!clients) return;
    const name = kit.key('history');
    let leading = 0;
    const terms: bigint[] = [];
    const rounds = Array.from({ length: 12 }, (_, i) =>
      clients[i % clients.length]!.election(name, { value: `c${i}` }).run(
        async (signal, leadership) => {
          leading++;
          assert.equal(leading, 1, 'one leader at a time');
          terms.push(leadership.term);
          await new Promise((resolve) => setImmediate(resolve));
          assert.equal(signal.aborted, false);
          leading--;
        },
        { waitTimeoutMs: kit.timeoutMs },
      ),
    );
    await Promise.all(rounds);
    assert.equal(terms.length, 12);
    for (let i = 1; i < terms.length; i++) assert.ok(terms[i]! > terms[i - 1]!, `term ${i}`);
    assert.equal(await clients[0]!.election(name, { value: 'x' }).leader(), null);
  });

  test("failover after expiry: the leader's signal fires before the rival is granted, terms increase", async () => {
    if (!(await rawElection(kit))) return;
    // maxHoldMs stops the watchdog: the leader then expires as a crashed one would.
    const stuck = await kit.client({ maxHoldMs: kit.ttl });
    const rival = await kit.client();
    const name = kit.key('failover-expiry');
    const leader = await stuck.election(name, { value: 'stuck' }).campaign();
    const next = await rival.election(name, { value: 'next' }).campaign({
      waitTimeoutMs: kit.timeoutMs,
    });
    assert.equal(leader.signal.aborted, true, 'the old leader knew before the rival was granted');
    assert.ok(LockLostError.isInstance(leader.signal.reason));
    assert.equal(leader.held, false);
    assert.ok(next.term > leader.term);
    assert.equal(await leader.resign(), false, 'the expired leader cannot resign');
    assert.equal((await rival.election(name, { value: 'x' }).leader())?.value, 'next');
    await next.resign();
  });

  test('an aborted or timed-out campaign leaves nothing: the next campaign is granted at once', async () => {
    const clients = await clientsIfElection(3);
    if (!clients) return;
    const [a, b, c] = clients as [LockClient, LockClient, LockClient];
    const name = kit.key('abort');
    const leader = await a.election(name, { value: 'a' }).campaign();
    const controller = new AbortController();
    const quitting = b.election(name, { value: 'b' }).campaign({ signal: controller.signal });
    const reason = new Error('changed my mind');
    controller.abort(reason);
    await assert.rejects(quitting, (e) => e === reason);
    await assert.rejects(
      b.election(name, { value: 'b' }).campaign({ waitTimeoutMs: Math.min(kit.ttl, 200) }),
      (e) => LockTimeoutError.isInstance(e),
    );
    await assert.rejects(b.election(name, { value: 'b' }).campaign({ waitTimeoutMs: 0 }), (e) =>
      LockTimeoutError.isInstance(e),
    );
    assert.equal(await leader.resign(), true);
    const next = await c.election(name, { value: 'c' }).campaign({ waitTimeoutMs: 0 });
    assert.equal(next.value, 'c', 'nobody the abort or timeout left behind stands in the way');
    await next.resign();
    assert.equal(await c.election(name, { value: 'c' }).leader(), null);
  });

  test("a deposed leader's signal fires; its proclaim throws LockNotHeldError and its resign is false", async () => {
    const clients = await clientsIfElection(1);
    if (!clients) return;
    const locks = clients[0]!;
    const name = kit.key('deposed');
    const leadership = await locks.election(name, { value: 'a' }).campaign();
    await leadership.proclaim('a2');
    assert.equal(leadership.value, 'a2');
    assert.equal((await locks.election(name, { value: 'x' }).leader())?.value, 'a2');
    await depose(kit, name);
    // The next renewal (about ttl / 3) finds the leadership gone.
    const reason = await aborted(leadership.signal);
    assert.ok(LockLostError.isInstance(reason));
    assert.equal(leadership.held, false);
    await assert.rejects(leadership.proclaim('late'), (e) => LockNotHeldError.isInstance(e));
    assert.equal(await leadership.resign(), false);
    assert.equal(await locks.election(name, { value: 'x' }).leader(), null);
  });

  test('proclaim by a leader deposed since its last renewal throws, and the handle reads not held', async () => {
    if (!(await rawElection(kit))) return;
    const locks = await kit.client({ ttlMs: 30_000 });
    const name = kit.key('deposed-proclaim');
    const leadership = await locks.election(name, { value: 'a' }).campaign();
    await depose(kit, name);
    assert.equal(leadership.held, true, 'the client has not heard yet');
    await assert.rejects(leadership.proclaim('late'), (e) => LockNotHeldError.isInstance(e));
    assert.equal(leadership.held, false);
    assert.equal(leadership.signal.aborted, true);
    assert.equal(await leadership.resign(), false);
  });

  test('two campaigns of one client are two candidates (a campaign never re-enters)', async () => {
    const clients = await clientsIfElection(1);
    if (!clients) return;
    const election = clients[0]!.election(kit.key('twice'), { value: 'v' });
    await election.run(async () => {
      await assert.rejects(election.campaign({ waitTimeoutMs: 0 }), (e) =>
        LockTimeoutError.isInstance(e),
      );
    });
    const one = await election.campaign();
    await assert.rejects(election.campaign({ waitTimeoutMs: 0 }), (e) =>
      LockTimeoutError.isInstance(e),
    );
    await one.resign();
  });

  test('bad names, values, TTLs and options are refused with LockArgumentError', async () => {
    const clients = await clientsIfElection(1);
    if (!clients) return;
    const locks = clients[0]!;
    const bad = (fn: () => unknown) =>
      assert.throws(fn, (e: unknown) => LockArgumentError.isInstance(e));
    bad(() => locks.election('', { value: 'v' }));
    bad(() => locks.election('x'.repeat(513), { value: 'v' }));
    bad(() => locks.election('n', { value: 42 as unknown as string }));
    bad(() => locks.election('n', { value: 'x'.repeat(4097) }));
    bad(() => locks.election('n', { value: '\ud800' }));
    bad(() => locks.election('n', { value: 'v', ttlMs: 0 }));
    bad(() => locks.election('n', undefined as never));
    bad(() => locks.election('n', { value: 'v', prefix: 'x' } as never));
    const election = locks.election(kit.key('args'), { value: 'v'.repeat(4096) });
    await assert.rejects(election.campaign({ waitTimeoutMs: -1 }), (e) =>
      LockArgumentError.isInstance(e),
    );
    await assert.rejects(election.campaign({ ttlMs: 5 } as never), (e) =>
      LockArgumentError.isInstance(e),
    );
    await assert.rejects(election.run('no' as never), (e) => LockArgumentError.isInstance(e));
    await assert.rejects(
      election.run(() => {}, { requeue: 'yes' as never }),
      (e) => LockArgumentError.isInstance(e),
    );
    const leadership = await election.campaign();
    await assert.rejects(leadership.proclaim('x'.repeat(4097)), (e) =>
      LockArgumentError.isInstance(e),
    );
    await leadership.resign();
  });

  test('close() ends a campaign with LockClosedError and resigns a leadership (signal: client-closed)', async () => {
    if (!(await rawElection(kit))) return;
    const a = await kit.client();
    const b = await kit.client();
    const observer = await kit.client();
    const name = kit.key('close');
    const leadership = await a.election(name, { value: 'a' }).campaign();
    const waiting = b.election(name, { value: 'b' }).campaign();
    await b.close();
    await assert.rejects(waiting, (e) => LockClosedError.isInstance(e));
    await a.close();
    assert.equal(leadership.signal.aborted, true);
    assert.equal((leadership.signal.reason as LockLostError).reason, 'client-closed');
    assert.equal(await observer.election(name, { value: 'o' }).leader(), null);
    assert.throws(
      () => a.election(name, { value: 'a' }),
      (e: unknown) => LockClosedError.isInstance(e),
    );
  });
}
