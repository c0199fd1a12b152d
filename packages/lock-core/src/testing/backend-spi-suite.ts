/**
 * The adapter-level suite: the SPI contract of `backend.ts`, checked directly on a backend's
 * methods (no client in between), for every adapter. It complements `runConformance`, which checks
 * the client-level semantics on top of the backend: run both, as keyv's adapters run its two
 * suites. Optional operations are checked exactly when the backend declares them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type AcquireResult, type LockBackend, SPECIFICATION_VERSION } from '../backend.js';
import { eventually, type TestRunner } from './kit.js';
import { assertClosedCalls, codeLikeKeys, spiRun } from './spi-run.js';
import { manySpiTests } from './suite-multi-spi.js';

export interface BackendSpiSuiteOptions {
  /** Shown in the suite's title. */
  name: string;
  /**
   * Returns a new backend instance on the same server state each call, as another process would
   * have. The suite closes every backend it created.
   */
  createBackend(): LockBackend | Promise<LockBackend>;
  runner: TestRunner;
  /**
   * A TTL short enough to wait out, for the expiry test. Backends with whole-second TTLs pass
   * at least their granularity.
   * @default 250
   */
  shortTtlMs?: number;
  /**
   * More keys the adapter wants checked as plain data, on top of the suite's own (which look like
   * Lua, SQL, etcd ranges, hash tags, and are not all ASCII).
   * @default []
   */
  keys?: readonly string[];
}

/** Keys that look like code or syntax to some server, or are not ASCII: each must be plain data. */
export const SPI_SUITE_KEYS: readonly string[] = [
  "]] redis.call('FLUSHALL') --[[",
  "'); DROP TABLE dlock_locks; --",
  'KEYS[1]',
  '{',
  '}',
  '{tag}',
  'a}b{c}d',
  '*',
  '?[a-z]%_',
  '\\"\'`',
  'new\nline\ttab',
  '/',
  '\u0000',
  'dlock/',
  '🔒🚀 emoji ключ 鍵',
  'SET x y\r\nFLUSHALL\r\n',
];

const newOwner = () => randomBytes(16).toString('hex');

function granted(
  result: AcquireResult,
): asserts result is Extract<AcquireResult, { acquired: true }> {
  assert.equal(result.acquired, true, 'expected a grant');
}

export function runBackendSpiSuite(options: BackendSpiSuiteOptions): void {
  const { describe, it, beforeAll, afterAll } = options.runner;
  const { run, shortTtl, timeoutMs, backend, closeAll } = spiRun(options);
  let counter = 0;
  const key = (label: string) => `dlock-spi:${run}:${label}:${++counter}`;
  let probe: LockBackend;
  const test = (name: string, fn: () => Promise<void>) => it(name, fn, timeoutMs);

  describe(`dlock backend SPI: ${options.name}`, () => {
    beforeAll(async () => {
      probe = await backend();
    });
    afterAll(closeAll);

    test('declares the SPI version and capabilities that match its methods', async () => {
      assert.equal(probe.specificationVersion, SPECIFICATION_VERSION);
      assert.equal(typeof probe.name, 'string');
      const { capabilities: c } = probe;
      assert.ok(Number.isInteger(c.ttlGranularityMs) && c.ttlGranularityMs >= 1);
      assert.equal(typeof probe.watch === 'function', c.watch, 'watch() iff capability watch');
      assert.equal(
        typeof probe.waitAcquire === 'function',
        c.nativeWait,
        'waitAcquire() iff capability nativeWait',
      );
      assert.equal(
        typeof probe.extendMany === 'function',
        c.batchExtend,
        'extendMany() iff capability batchExtend',
      );
      assert.equal(
        typeof probe.handOver === 'function',
        c.handOver === true,
        'handOver() iff capability handOver',
      );
    });

    test('grants, refuses another owner, and re-enters with the same token without shortening', async () => {
      const b = await backend();
      const other = await backend();
      const k = key('grant');
      const a = newOwner();
      const first = await b.tryAcquire({ key: k, owner: a, ttlMs: 10_000 });
      granted(first);
      assert.equal(first.reentered, false);
      assert.ok(first.ttlMs > 9_000 && first.ttlMs <= 10_000 + b.capabilities.ttlGranularityMs);
      const refused = await other.tryAcquire({ key: k, owner: newOwner(), ttlMs: 10_000 });
      assert.equal(refused.acquired, false);
      if (!refused.acquired && refused.retryAfterMs !== undefined) {
        assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 11_000);
      }
      const again = await b.tryAcquire({ key: k, owner: a, ttlMs: 1_000 });
      granted(again);
      assert.equal(again.reentered, true);
      assert.equal(again.fencingToken, first.fencingToken);
      // The server's expiry decides (a backend may report less than is left: that is only
      // conservative), so the lease is read back rather than taken from the answer.
      assert.ok((await other.inspect(k))!.ttlMs > 5_000, 'a shorter re-entry never shortens it');
      const longer = await b.tryAcquire({ key: k, owner: a, ttlMs: 60_000 });
      granted(longer);
      assert.ok((await other.inspect(k))!.ttlMs > 50_000, 'a longer re-entry lengthens it');

      const state = await other.inspect(k);
      assert.ok(state, 'inspect sees the holder');
      assert.equal(state.key, k);
      assert.equal(state.owner, a);
      assert.equal(state.count, 3);
      assert.ok(state.ttlMs > 50_000);
      if (state.fencingToken !== undefined) assert.equal(state.fencingToken, first.fencingToken);

      assert.equal(await b.release({ key: k, owner: a }), 'decremented');
      assert.equal(await b.release({ key: k, owner: a }), 'decremented');
      assert.equal(await b.release({ key: k, owner: a }), 'released');
      assert.equal(await b.release({ key: k, owner: a }), 'not-held');
      assert.equal(await other.inspect(k), null);
    });

    test('only the owner releases or extends; a foreign call changes nothing', async () => {
      const b = await backend();
      const k = key('owner');
      const a = newOwner();
      granted(await b.tryAcquire({ key: k, owner: a, ttlMs: 10_000 }));
      assert.equal(await b.release({ key: k, owner: newOwner() }), 'not-held');
      assert.equal(await b.extend({ key: k, owner: newOwner(), ttlMs: 20_000 }), false);
      assert.equal((await b.inspect(k))?.owner, a);
      const renewed = await b.extend({ key: k, owner: a, ttlMs: 30_000 });
      assert.ok(renewed === true || (typeof renewed === 'object' && renewed.ttlMs > 20_000));
      assert.ok((await b.inspect(k))!.ttlMs > 20_000);
      assert.equal(await b.release({ key: k, owner: a }), 'released');
    });

    test('expires on the server, never re-creates an expired lock, and the next grant fences higher', async () => {
      const b = await backend();
      const k = key('expiry');
      const a = newOwner();
      const first = await b.tryAcquire({ key: k, owner: a, ttlMs: shortTtl });
      granted(first);
      await eventually(
        'the lock expired',
        async () => (await b.inspect(k)) === null,
        timeoutMs / 2,
      );
      assert.equal(await b.extend({ key: k, owner: a, ttlMs: 10_000 }), false);
      assert.equal(await b.inspect(k), null);
      // A backend whose server lock outlives the lease by a round trip (MySQL's held modes end
      // the holder's connection) grants soon after, not necessarily on the first attempt.
      const next = await backend();
      const o = newOwner();
      const attempts: AcquireResult[] = [];
      await eventually(
        'the expired lock is granted again',
        async () => {
          attempts.push(await next.tryAcquire({ key: k, owner: o, ttlMs: 10_000 }));
          return attempts.at(-1)!.acquired;
        },
        timeoutMs / 2,
      );
      const second = attempts.at(-1)!;
      granted(second);
      assert.ok(second.fencingToken > first.fencingToken);
      assert.equal(await b.release({ key: k, owner: a }), 'not-held');
    });

    test('fencing tokens strictly increase across grants and backend instances', async () => {
      const k = key('fence');
      let last = -1n;
      for (let i = 0; i < 6; i++) {
        const b = await backend();
        const o = newOwner();
        const grant = await b.tryAcquire({ key: k, owner: o, ttlMs: 10_000 });
        granted(grant);
        assert.ok(grant.fencingToken > last, `${grant.fencingToken} > ${last}`);
        last = grant.fencingToken;
        assert.equal(await b.release({ key: k, owner: o }), 'released');
      }
    });

    test('keys and owner tokens that look like code are plain data, each its own lock', async () => {
      const b = await backend();
      const other = await backend();
      const a = newOwner();
      const keys = codeLikeKeys(SPI_SUITE_KEYS, options.keys);
      // One key at a time: backends that pin a connection per held lock need only one.
      for (const k of keys) {
        granted(await b.tryAcquire({ key: k, owner: a, ttlMs: 10_000 }));
        const refused = await other.tryAcquire({ key: k, owner: newOwner(), ttlMs: 10_000 });
        assert.equal(refused.acquired, false, JSON.stringify(k));
        const state = await other.inspect(k);
        assert.equal(state?.key, k);
        assert.equal(state?.owner, a);
        assert.equal(await b.release({ key: k, owner: a }), 'released');
      }
      // Similar keys are different locks: all of them free again, none merged with another.
      for (const k of keys) assert.equal(await other.inspect(k), null, JSON.stringify(k));
      const weird = `x', ARGV[1]) redis.call('DEL', KEYS[1]) --'; DELETE FROM t; 🔒${run}`;
      const k = key('owner-syntax');
      granted(await b.tryAcquire({ key: k, owner: weird, ttlMs: 10_000 }));
      assert.equal((await other.inspect(k))?.owner, weird);
      assert.equal(await b.release({ key: k, owner: weird }), 'released');
    });

    test('extendMany (capability batchExtend) answers one result per request, in order', async () => {
      const b = await backend();
      if (!b.capabilities.batchExtend || !b.extendMany) return;
      const a = newOwner();
      const keys = Array.from({ length: 12 }, (_, i) => key(`many${i}`));
      for (const k of keys.slice(0, 8))
        granted(await b.tryAcquire({ key: k, owner: a, ttlMs: 5_000 }));
      const results = await b.extendMany(keys.map((k) => ({ key: k, owner: a, ttlMs: 30_000 })));
      assert.equal(results.length, keys.length);
      results.forEach((result, i) => {
        assert.equal(result !== false, i < 8, `request ${i}`);
      });
      assert.ok((await b.inspect(keys[0]!))!.ttlMs > 20_000);
      assert.deepEqual(await b.extendMany([]), []);
      for (const k of keys.slice(0, 8)) await b.release({ key: k, owner: a });
    });

    test('watch (capability watch) calls back for a release someone was refused by', async () => {
      const watcher = await backend();
      if (!watcher.capabilities.watch || !watcher.watch) return;
      const holder = await backend();
      const k = key('watch');
      const a = newOwner();
      granted(await holder.tryAcquire({ key: k, owner: a, ttlMs: 10_000 }));
      let calls = 0;
      const handle = await watcher.watch(k, () => {
        calls++;
      });
      assert.equal(
        (await watcher.tryAcquire({ key: k, owner: newOwner(), ttlMs: 10_000 })).acquired,
        false,
      );
      assert.equal(await holder.release({ key: k, owner: a }), 'released');
      await eventually('the release was announced', () => calls > 0, 5_000);
      await handle.close();
      await handle.close(); // idempotent
    });

    test('handOver (capability handOver) passes the last hold to the next owner with a larger token, unannounced', async () => {
      const b = await backend();
      if (!b.capabilities.handOver || !b.handOver) return;
      const other = await backend();
      const k = key('hand-over');
      const a = newOwner();
      const c = newOwner();
      const first = await b.tryAcquire({ key: k, owner: a, ttlMs: 10_000 });
      granted(first);
      let announced = 0;
      const handle = b.watch ? await b.watch(k, () => announced++) : undefined;
      const passed = await b.handOver(
        { key: k, owner: a },
        { key: k, owner: c, ttlMs: 20_000 },
        false,
      );
      assert.equal(passed.released, 'released');
      granted(passed.next);
      assert.equal(passed.next.reentered, false);
      assert.ok(passed.next.fencingToken > first.fencingToken, 'a fresh, larger token');
      const state = await other.inspect(k);
      assert.equal(state?.owner, c, 'inspect sees the new holder');
      assert.equal(state?.count, 1);
      assert.ok(state!.ttlMs > 15_000, "the new holder's TTL");
      assert.equal(await other.release({ key: k, owner: a }), 'not-held', 'the old owner is out');
      // Still held by c throughout: another owner is refused, and a later grant fences higher.
      assert.equal(
        (await other.tryAcquire({ key: k, owner: newOwner(), ttlMs: 1_000 })).acquired,
        false,
      );
      // From an owner that does not hold it: 'not-held', and the next owner is refused while c holds.
      const stray = await b.handOver(
        { key: k, owner: a },
        { key: k, owner: newOwner(), ttlMs: 1_000 },
        false,
      );
      assert.equal(stray.released, 'not-held');
      assert.equal(stray.next.acquired, false);
      // A re-entered holder only gives up one hold: the next owner is refused.
      granted(await b.tryAcquire({ key: k, owner: c, ttlMs: 10_000 }));
      const partial = await b.handOver(
        { key: k, owner: c },
        { key: k, owner: a, ttlMs: 1_000 },
        false,
      );
      assert.equal(partial.released, 'decremented');
      assert.equal(partial.next.acquired, false);
      assert.equal((await other.inspect(k))?.owner, c);
      assert.equal(await b.release({ key: k, owner: c }), 'released');
      // From nobody on a free key: the next owner simply gets it.
      const free = await b.handOver(
        { key: k, owner: a },
        { key: k, owner: a, ttlMs: 10_000 },
        false,
      );
      assert.equal(free.released, 'not-held');
      granted(free.next);
      assert.ok(free.next.fencingToken > passed.next.fencingToken);
      assert.equal(await b.release({ key: k, owner: a }), 'released');
      // Only the final plain release was announced (the stray hand-over and its refusals aside,
      // which may flag the key, a hand-over itself never frees it).
      await handle?.close();
      assert.ok(announced <= 2);
    });

    test('handOver (capability handOver) yields to an owner that was refused: a plain, announced release', async () => {
      const b = await backend();
      if (!b.capabilities.handOver || !b.handOver) return;
      const elsewhere = await backend();
      const k = key('hand-over-yield');
      const a = newOwner();
      const first = await b.tryAcquire({ key: k, owner: a, ttlMs: 10_000 });
      granted(first);
      let calls = 0;
      const handle = elsewhere.watch ? await elsewhere.watch(k, () => calls++) : undefined;
      const waiting = newOwner();
      assert.equal(
        (await elsewhere.tryAcquire({ key: k, owner: waiting, ttlMs: 10_000 })).acquired,
        false,
      );
      const local = newOwner();
      const yielded = await b.handOver(
        { key: k, owner: a },
        { key: k, owner: local, ttlMs: 10_000 },
        true,
      );
      assert.equal(yielded.released, 'released');
      assert.equal(yielded.next.acquired, false, 'the local owner is refused');
      assert.equal(await elsewhere.inspect(k), null, 'the key is free for everyone');
      if (handle) {
        await eventually('the release was announced', () => calls > 0, 5_000);
        await handle.close();
      }
      const next = await elsewhere.tryAcquire({ key: k, owner: waiting, ttlMs: 10_000 });
      granted(next);
      assert.ok(next.fencingToken > first.fencingToken);
      assert.equal(await elsewhere.release({ key: k, owner: waiting }), 'released');
    });

    test('forceRelease (optional) removes any holder, keeps fencing monotonic, and reports whether a lock was there', async () => {
      const b = await backend();
      const operator = await backend();
      if (!operator.forceRelease) return;
      const k = key('force');
      const a = newOwner();
      const first = await b.tryAcquire({ key: k, owner: a, ttlMs: 10_000 });
      granted(first);
      granted(await b.tryAcquire({ key: k, owner: a, ttlMs: 10_000 }));
      assert.equal(await operator.forceRelease(k), true);
      assert.equal(await operator.forceRelease(k), false);
      assert.equal(await b.inspect(k), null);
      assert.equal(await b.extend({ key: k, owner: a, ttlMs: 10_000 }), false);
      assert.equal(await b.release({ key: k, owner: a }), 'not-held');
      const next = await operator.tryAcquire({ key: k, owner: newOwner(), ttlMs: 10_000 });
      granted(next);
      assert.ok(next.fencingToken > first.fencingToken);
    });

    test('waitAcquire (capability nativeWait) grants on release, refuses at its deadline, and honours abort', async () => {
      const holder = await backend();
      const waiter = await backend();
      if (!waiter.capabilities.nativeWait || !waiter.waitAcquire) return;
      const k = key('native');
      const a = newOwner();
      granted(await holder.tryAcquire({ key: k, owner: a, ttlMs: 30_000 }));
      const never = new AbortController();
      const late = await waiter.waitAcquire({
        key: k,
        owner: newOwner(),
        ttlMs: 10_000,
        timeoutMs: shortTtl,
        signal: never.signal,
      });
      assert.equal(late.acquired, false, 'refused when the time ran out');

      const controller = new AbortController();
      const reason = new Error('stop waiting');
      const aborted = waiter.waitAcquire({
        key: k,
        owner: newOwner(),
        ttlMs: 10_000,
        timeoutMs: 60_000,
        signal: controller.signal,
      });
      controller.abort(reason);
      await assert.rejects(aborted, (e: unknown) => e === reason);

      const w = newOwner();
      const waiting = waiter.waitAcquire({
        key: k,
        owner: w,
        ttlMs: 10_000,
        timeoutMs: 60_000,
        signal: never.signal,
      });
      assert.equal(await holder.release({ key: k, owner: a }), 'released');
      const grant = await waiting;
      granted(grant);
      assert.equal((await holder.inspect(k))?.owner, w);
      assert.equal(await waiter.release({ key: k, owner: w }), 'released');
    });

    manySpiTests({ test, backend, run, codeKeys: codeLikeKeys(SPI_SUITE_KEYS, options.keys) });

    test('a closed backend rejects every operation with LockClosedError, never synchronously', async () => {
      const b = await options.createBackend();
      await b.close();
      await b.close(); // idempotent
      const request = { key: key('closed'), owner: newOwner(), ttlMs: 1_000 };
      const calls: [string, () => Promise<unknown>][] = [
        ['tryAcquire', () => b.tryAcquire(request)],
        ['extend', () => b.extend(request)],
        ['release', () => b.release(request)],
        ['inspect', () => b.inspect(request.key)],
      ];
      if (b.extendMany) calls.push(['extendMany', () => b.extendMany!([request])]);
      if (b.forceRelease) calls.push(['forceRelease', () => b.forceRelease!(request.key)]);
      if (b.tryAcquireMany) calls.push(['tryAcquireMany', () => b.tryAcquireMany!([request])]);
      if (b.watch) calls.push(['watch', () => b.watch!(request.key, () => {})]);
      if (b.waitAcquire) {
        const signal = new AbortController().signal;
        calls.push(['waitAcquire', () => b.waitAcquire!({ ...request, timeoutMs: 1_000, signal })]);
      }
      await assertClosedCalls(calls);
    });
  });
}
