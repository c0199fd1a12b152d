/**
 * Client-level `observe()` and `run()`: no leader reported as `null`, each change once, never a
 * lower term, the end on abort and `return()`; `run` resigning, and requeueing after a loss.
 */
import assert from 'node:assert/strict';
import { LockTimeoutError } from '../errors.js';
import type { LeaderInfo } from '../types.js';
import type { Kit } from './kit.js';
import { aborted, depose, rawElection } from './suite-election-client.js';

export function electionObserveSuite(kit: Kit): void {
  const { it } = kit.runner;
  const test = (name: string, fn: () => Promise<void>) => it(name, fn, kit.timeoutMs);

  test('observe: null without a leader, then each change once (grant, proclaim, resign), terms never lower', async () => {
    if (!(await rawElection(kit))) return;
    const [a, b, watcher] = [await kit.client(), await kit.client(), await kit.client()];
    const name = kit.key('observe');
    const controller = new AbortController();
    const seen = watcher.election(name, { value: 'w' }).observe({ signal: controller.signal });
    const next = async (): Promise<LeaderInfo | null> => {
      const step = await seen.next();
      assert.equal(step.done, false);
      return step.value as LeaderInfo | null;
    };
    assert.equal(await next(), null, 'no leader is reported as null');
    const first = await a.election(name, { value: 'a' }).campaign();
    const s1 = await next();
    assert.equal(s1?.term, first.term);
    assert.equal(s1?.value, 'a');
    // Asked for the next change before a rival gives up: its queue entry going wakes watchers
    // without changing the leader, and the observer must report nothing for it.
    const change = next();
    await assert.rejects(
      b.election(name, { value: 'b' }).campaign({ waitTimeoutMs: Math.min(kit.ttl, 100) }),
      (e) => LockTimeoutError.isInstance(e),
    );
    await first.proclaim('a2');
    const s2 = await change;
    assert.equal(s2?.value, 'a2', 'the proclaimed value, not the same leader again');
    assert.equal(s2?.term, first.term);
    await first.resign();
    assert.equal(await next(), null, 'the resign is reported as null');
    const second = await b.election(name, { value: 'b' }).campaign();
    const s3 = await next();
    assert.equal(s3?.value, 'b');
    assert.ok(s3 && s3.term > first.term, 'a higher term');
    controller.abort();
    const end = await seen.next();
    assert.equal(end.done, true, 'the iteration ends on abort');
    await second.resign();
  });

  test('observe ends on return() while it waits, and for-await break ends it too', async () => {
    if (!(await rawElection(kit))) return;
    const locks = await kit.client();
    const name = kit.key('observe-return');
    const iterator = locks.election(name, { value: 'w' }).observe();
    assert.equal((await iterator.next()).value, null);
    // A next() that waits for a change nobody makes: return() must end it at once.
    const pending = iterator.next();
    await iterator.return!();
    assert.equal((await pending).done, true);
    let reads = 0;
    for await (const leader of locks.election(name, { value: 'w' }).observe()) {
      assert.equal(leader, null);
      reads++;
      break;
    }
    assert.equal(reads, 1);
  });

  test('run: fn runs while leading with the leadership signal, resolves with its result, then resigns', async () => {
    if (!(await rawElection(kit))) return;
    const locks = await kit.client();
    const name = kit.key('run');
    const election = locks.election(name, { value: 'runner' });
    const result = await election.run(async (signal, leadership) => {
      assert.equal(signal, leadership.signal);
      assert.equal(leadership.held, true);
      assert.equal((await election.leader())?.term, leadership.term);
      return 42;
    });
    assert.equal(result, 42);
    assert.equal(await election.leader(), null, 'resigned when fn settled');
    const failure = new Error('job failed');
    await assert.rejects(
      election.run(() => {
        throw failure;
      }),
      (e) => e === failure,
    );
    assert.equal(await election.leader(), null, 'resigned after fn threw');
  });

  test('run with requeue campaigns again after a loss (not after fn returns), with a higher term', async () => {
    if (!(await rawElection(kit))) return;
    const locks = await kit.client();
    const name = kit.key('requeue');
    const election = locks.election(name, { value: 'r' });
    const terms: bigint[] = [];
    const result = await election.run(
      async (signal, leadership) => {
        terms.push(leadership.term);
        if (terms.length > 1) return 'second';
        await depose(kit, name);
        await aborted(signal);
        return 'first';
      },
      { requeue: true, waitTimeoutMs: kit.timeoutMs },
    );
    assert.equal(result, 'second');
    assert.equal(terms.length, 2);
    assert.ok(terms[1]! > terms[0]!);
    assert.equal(await election.leader(), null);
  });

  test("run with requeue ends with the signal's reason once its signal aborts", async () => {
    if (!(await rawElection(kit))) return;
    const [a, b] = [await kit.client(), await kit.client()];
    const name = kit.key('requeue-abort');
    const blocker = await b.election(name, { value: 'b' }).campaign();
    const controller = new AbortController();
    let calls = 0;
    const running = a.election(name, { value: 'a' }).run(
      () => {
        calls++;
      },
      { requeue: true, signal: controller.signal },
    );
    const reason = new Error('shutdown');
    controller.abort(reason);
    await assert.rejects(running, (e) => e === reason);
    assert.equal(calls, 0);
    await blocker.resign();
  });
}
