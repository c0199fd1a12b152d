/**
 * The adapter-level suite for shared keys (semaphores and read-write locks): the contract of
 * `SharedBackend` in `backend.ts`, checked directly on a backend's methods, as
 * `runBackendSpiSuite` checks the mutex's. Scenarios for a capability the backend does not
 * declare (a semaphore limit above `maxSemaphoreLimit`, `readWrite`, `watch`, `batchExtend`,
 * `forceRelease`) are skipped inside the test, so every adapter runs the same list.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AcquireResult, SharedState } from '../backend.js';
import { SPI_SUITE_KEYS } from './backend-spi-suite.js';
import { eventually } from './kit.js';
import {
  createSharedSpiContext,
  granted,
  modeRequest,
  newOwner,
  refused,
  type SharedSpiSuiteOptions,
  semaphoreRequest as sem,
} from './shared-spi-context.js';
import { assertClosedCalls, codeLikeKeys } from './spi-run.js';
import { sharedQueueSuite } from './suite-shared-queue.js';
import { sharedReadWriteSuite } from './suite-shared-read-write.js';
import { sharedSemaphoreSuite } from './suite-shared-semaphore.js';

export type { SharedSpiSuiteOptions } from './shared-spi-context.js';

export function runSharedSpiSuite(options: SharedSpiSuiteOptions): void {
  const { describe, beforeAll, afterAll } = options.runner;
  const ctx = createSharedSpiContext(options);
  const { test } = ctx;

  describe(`dlock shared-key SPI: ${options.name}`, () => {
    afterAll(async () => {
      await ctx.closeAll();
    });
    beforeAll(async () => {
      await ctx.backend();
    });

    test('declares shared capabilities that match its methods', async () => {
      const backend = await ctx.backend();
      const s = backend.shared;
      if (!s) return;
      const c = s.capabilities;
      assert.ok(
        c.maxSemaphoreLimit === Number.POSITIVE_INFINITY ||
          (Number.isInteger(c.maxSemaphoreLimit) && c.maxSemaphoreLimit >= 0),
        'maxSemaphoreLimit is a count or Infinity',
      );
      assert.equal(typeof c.readWrite, 'boolean');
      assert.equal(typeof s.watch === 'function', c.watch, 'watch() iff capability watch');
      assert.equal(
        typeof s.waitAcquire === 'function',
        c.nativeWait,
        'waitAcquire() iff capability nativeWait',
      );
      assert.equal(
        typeof s.extendMany === 'function',
        c.batchExtend,
        'extendMany() iff capability batchExtend',
      );
      assert.ok(c.maxSemaphoreLimit > 0 || c.readWrite, 'a shared backend offers something');
    });

    describe('semaphores', () => sharedSemaphoreSuite(ctx));
    describe('waiter queue', () => sharedQueueSuite(ctx));
    describe('read-write', () => sharedReadWriteSuite(ctx));

    describe('keys, batches, operators and shutdown', () => {
      test('mutex, semaphore and read-write keys of one name are independent', async () => {
        const backend = await ctx.backend();
        const s = backend.shared;
        if (!s) return;
        const k = ctx.key('namespaces');
        const m = newOwner();
        const mutex = await backend.tryAcquire({ key: k, owner: m, ttlMs: 10_000 });
        granted(mutex, 'mutex');
        let semOwner: string | undefined;
        if (s.capabilities.maxSemaphoreLimit >= 1) {
          semOwner = newOwner();
          granted(await s.tryAcquire(sem(k, semOwner, 1)), 'a semaphore of the same name');
          assert.equal(await s.inspect('read-write', k), null);
        }
        let writer: string | undefined;
        if (s.capabilities.readWrite) {
          writer = newOwner();
          granted(await s.tryAcquire(modeRequest('write', k, writer)), 'a write of the same name');
          assert.deepEqual(
            (await s.inspect('read-write', k))?.holders.map((h) => h.owner),
            [writer],
          );
        }
        if (semOwner) {
          assert.deepEqual(
            (await s.inspect('semaphore', k))?.holders.map((h) => h.owner),
            [semOwner],
          );
          assert.equal(await s.release({ key: k, owner: semOwner, kind: 'semaphore' }), 'released');
        }
        assert.equal((await backend.inspect(k))?.owner, m, 'the mutex is untouched');
        if (writer)
          assert.equal(await s.release({ key: k, owner: writer, kind: 'write' }), 'released');
        assert.equal(await backend.release({ key: k, owner: m }), 'released');
        // Shared grants never moved the mutex's tokens backwards (nor the reverse).
        const next = await backend.tryAcquire({ key: k, owner: newOwner(), ttlMs: 1_000 });
        granted(next);
        assert.ok(next.fencingToken > mutex.fencingToken);
      });

      test('keys and owner tokens that look like code are plain data, each its own shared key', async () => {
        const a = await ctx.shared();
        const b = await ctx.shared();
        if (!a || !b) return;
        const suffix = randomUUID().slice(0, 8);
        const keys = codeLikeKeys(SPI_SUITE_KEYS, options.keys);
        const canSem = a.capabilities.maxSemaphoreLimit >= 1;
        const owner = `x', ARGV[1]) redis.call('DEL', KEYS[1]) --'; DELETE FROM t; 🔒${suffix}`;
        for (const k of keys) {
          const what = JSON.stringify(k);
          if (canSem) {
            granted(await a.tryAcquire(sem(k, owner, 1)), what);
            refused(await b.tryAcquire(sem(k, newOwner(), 1)), what);
            const state: SharedState | null = await b.inspect('semaphore', k);
            assert.equal(state?.key, k, what);
            assert.equal(state?.holders[0]?.owner, owner, what);
            assert.equal(await a.release({ key: k, owner, kind: 'semaphore' }), 'released', what);
          }
          if (a.capabilities.readWrite) {
            granted(await a.tryAcquire(modeRequest('write', k, owner)), what);
            refused(await b.tryAcquire(modeRequest('read', k, newOwner())), what);
            assert.equal((await b.inspect('read-write', k))?.holders[0]?.owner, owner, what);
            assert.equal(await a.release({ key: k, owner, kind: 'write' }), 'released', what);
          }
        }
        for (const k of keys) {
          assert.equal(await b.inspect('semaphore', k), null, JSON.stringify(k));
          assert.equal(await b.inspect('read-write', k), null, JSON.stringify(k));
        }
      });

      test('extendMany (capability batchExtend) answers one result per request, in order', async () => {
        const s = await ctx.shared();
        if (!s?.extendMany || !s.capabilities.batchExtend) return;
        const owner = newOwner();
        const kind = s.capabilities.maxSemaphoreLimit >= 1 ? 'semaphore' : 'read';
        const keys = Array.from({ length: 6 }, (_, i) => ctx.key(`many${i}`));
        const request = (k: string) =>
          kind === 'semaphore' ? sem(k, owner, 1, { ttlMs: 5_000 }) : modeRequest('read', k, owner);
        for (const k of keys.slice(0, 4)) granted(await s.tryAcquire(request(k)));
        const results = await s.extendMany(
          keys.map((k) => ({ key: k, owner, kind, ttlMs: 30_000 })),
        );
        assert.equal(results.length, keys.length);
        results.forEach((result, i) => {
          assert.equal(result !== false, i < 4, `request ${i}`);
        });
        const family = kind === 'semaphore' ? 'semaphore' : 'read-write';
        assert.ok((await s.inspect(family, keys[0]!))!.holders[0]!.ttlMs > 20_000);
        assert.deepEqual(await s.extendMany([]), []);
        for (const k of keys.slice(0, 4)) await s.release({ key: k, owner, kind });
      });

      test('forceRelease (optional) removes every lease and queue entry and keeps fencing monotonic', async () => {
        const holderSide = await ctx.shared();
        const operator = await ctx.shared();
        if (!holderSide || !operator?.forceRelease) return;
        const k = ctx.key('force');
        let last: bigint;
        let family: 'semaphore' | 'read-write';
        let next: () => Promise<AcquireResult>;
        const owner = newOwner();
        if (operator.capabilities.maxSemaphoreLimit >= 1) {
          family = 'semaphore';
          const grant = await holderSide.tryAcquire(sem(k, owner, 1));
          granted(grant);
          last = grant.fencingToken;
          refused(await operator.tryAcquire(sem(k, newOwner(), 1, { queue: true })));
          next = () => operator.tryAcquire(sem(k, newOwner(), 1));
        } else {
          family = 'read-write';
          const grant = await holderSide.tryAcquire(modeRequest('write', k, owner));
          granted(grant);
          last = grant.fencingToken;
          refused(await operator.tryAcquire(modeRequest('write', k, newOwner(), { queue: true })));
          next = () => operator.tryAcquire(modeRequest('write', k, newOwner()));
        }
        assert.equal(await operator.forceRelease(family, k), true);
        assert.equal(await operator.forceRelease(family, k), false);
        assert.equal(await holderSide.inspect(family, k), null, 'no lease and no waiter left');
        const kind = family === 'semaphore' ? 'semaphore' : 'write';
        assert.equal(await holderSide.extend({ key: k, owner, kind, ttlMs: 10_000 }), false);
        assert.equal(await holderSide.release({ key: k, owner, kind }), 'not-held');
        const after = await next();
        granted(after, 'nothing queued blocks the next grant');
        assert.ok(after.fencingToken > last);
      });

      test('waitAcquire (capability nativeWait) grants on release, refuses at its deadline, and an abort leaves no entry', async () => {
        const holderSide = await ctx.shared();
        const waiter = await ctx.shared();
        if (!holderSide || !waiter?.waitAcquire || !waiter.capabilities.nativeWait) return;
        const useSemaphore = waiter.capabilities.maxSemaphoreLimit >= 1;
        const family = useSemaphore ? 'semaphore' : 'read-write';
        const kind = useSemaphore ? 'semaphore' : 'write';
        const request = (k: string, owner: string) =>
          useSemaphore
            ? sem(k, owner, 1, { queue: true })
            : modeRequest('write', k, owner, { queue: true });
        const k = ctx.key('native');
        const holder = newOwner();
        const first = await holderSide.tryAcquire({ ...request(k, holder), queue: false });
        granted(first);
        const never = new AbortController();
        const lateOwner = newOwner();
        const late = await waiter.waitAcquire({
          ...request(k, lateOwner),
          timeoutMs: ctx.shortTtl,
          signal: never.signal,
        });
        refused(late, 'refused when the time ran out');
        // As the core does when a wait timed out.
        await waiter.abandon({ key: k, owner: lateOwner, kind });
        const controller = new AbortController();
        const reason = new Error('stop waiting');
        const aborted = waiter.waitAcquire({
          ...request(k, newOwner()),
          timeoutMs: 60_000,
          signal: controller.signal,
        });
        controller.abort(reason);
        await assert.rejects(aborted, (e: unknown) => e === reason);
        await eventually(
          'the abandoned and the aborted waits left no entry',
          async () => {
            const state = await holderSide.inspect(family, k);
            return state?.waiters === undefined || state.waiters === 0;
          },
          ctx.timeoutMs / 2,
        );
        const w = newOwner();
        const waiting = waiter.waitAcquire({
          ...request(k, w),
          timeoutMs: 60_000,
          signal: never.signal,
        });
        assert.equal(await holderSide.release({ key: k, owner: holder, kind }), 'released');
        const grant = await waiting;
        granted(grant);
        assert.ok(grant.fencingToken > first.fencingToken);
        assert.deepEqual(
          (await holderSide.inspect(family, k))?.holders.map((h) => h.owner),
          [w],
        );
        assert.equal(await waiter.release({ key: k, owner: w, kind }), 'released');
      });

      test('fencing stays above every earlier token after the server forgot the counter (fault loseFencingState)', async () => {
        const s = await ctx.shared();
        const lose = options.loseFencingState;
        if (!s || !lose) return;
        if (s.capabilities.maxSemaphoreLimit >= 1) {
          const k = ctx.key('lost-sem');
          const owner = newOwner();
          const first = await s.tryAcquire(sem(k, owner, 1));
          granted(first);
          await s.release({ key: k, owner, kind: 'semaphore' });
          await lose('semaphore', k);
          const next = await s.tryAcquire(sem(k, newOwner(), 1));
          granted(next);
          assert.ok(next.fencingToken > first.fencingToken, 'semaphore grant after the loss');
        }
        if (s.capabilities.readWrite) {
          const k = ctx.key('lost-rw');
          const owner = newOwner();
          const write = await s.tryAcquire(modeRequest('write', k, owner));
          granted(write);
          await s.release({ key: k, owner, kind: 'write' });
          await lose('read-write', k);
          const reader = newOwner();
          const read = await s.tryAcquire(modeRequest('read', k, reader));
          granted(read);
          assert.ok(read.fencingToken >= write.fencingToken, 'read after the loss');
          await s.release({ key: k, owner: reader, kind: 'read' });
          const next = await s.tryAcquire(modeRequest('write', k, newOwner()));
          granted(next);
          assert.ok(next.fencingToken > write.fencingToken, 'write after the loss');
          assert.ok(next.fencingToken > read.fencingToken);
        }
      });

      test('a closed backend rejects every shared operation with LockClosedError, never synchronously', async () => {
        const backend = await options.createBackend();
        const s = backend.shared;
        await backend.close();
        if (!s) return;
        const key = ctx.key('closed');
        const owner = newOwner();
        const ref = { key, owner, kind: 'semaphore' as const };
        const calls: [string, () => Promise<unknown>][] = [
          ['tryAcquire', () => s.tryAcquire(sem(key, owner, 1))],
          ['extend', () => s.extend({ ...ref, ttlMs: 1_000 })],
          ['release', () => s.release(ref)],
          ['abandon', () => s.abandon(ref)],
          ['inspect', () => s.inspect('semaphore', key)],
        ];
        if (s.extendMany)
          calls.push(['extendMany', () => s.extendMany!([{ ...ref, ttlMs: 1_000 }])]);
        if (s.forceRelease) calls.push(['forceRelease', () => s.forceRelease!('semaphore', key)]);
        if (s.watch) calls.push(['watch', () => s.watch!('semaphore', key, () => {})]);
        if (s.waitAcquire) {
          const signal = new AbortController().signal;
          calls.push([
            'waitAcquire',
            () => s.waitAcquire!({ ...sem(key, owner, 1), timeoutMs: 1_000, signal }),
          ]);
        }
        await assertClosedCalls(calls);
      });
    });
  });
}
