import { describe, expect, it } from 'vitest';
import { createLockClient, LockArgumentError, memoryBackend } from '../src/index.js';
import type { AcquireRequest, HandOverResult, LockBackend, OwnerRef } from '../src/spi.js';

/** A memory backend that logs its calls and can hold hand-overs back until told. */
function loggedBackend(options: { handOver?: boolean } = {}) {
  const inner = memoryBackend();
  const log: string[] = [];
  const held: Array<() => void> = [];
  let holdHandOvers = false;
  const backend: LockBackend = {
    ...inner,
    capabilities: { ...inner.capabilities, handOver: options.handOver ?? true },
    tryAcquire(r) {
      log.push('acquire');
      return inner.tryAcquire(r);
    },
    release(r) {
      log.push('release');
      return inner.release(r);
    },
    async handOver(from: OwnerRef, to: AcquireRequest, yieldToOthers: boolean) {
      log.push(yieldToOthers ? 'handOver yield' : 'handOver');
      if (holdHandOvers) await new Promise<void>((resolve) => held.push(resolve));
      return inner.handOver!(from, to, yieldToOthers) as Promise<HandOverResult>;
    },
  };
  if (options.handOver === false) delete backend.handOver;
  return {
    backend,
    log,
    hold: () => {
      holdHandOvers = true;
    },
    letGo: () => {
      holdHandOvers = false;
      for (const go of held.splice(0)) go();
    },
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Resolves once `predicate` holds, checking after each turn of the event loop. */
async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await turn();
}

/**
 * Until the line's head sleeps, waiting for a release: the holder's attempt, the waiter's
 * refused first one, and its second once its watch is live.
 */
async function headAsleep(log: string[]): Promise<void> {
  await until(() => log.filter((l) => l === 'acquire').length >= 3);
  await turn();
}

describe('cohort hand-off (backend capability handOver)', () => {
  it('passes a released lock to the next local waiter in one call, with a larger token each time', async () => {
    const { backend, log } = loggedBackend();
    const client = createLockClient(backend, { ttlMs: 60_000, handOverLimit: 100 });
    const first = await client.acquire('k');
    const waiting = [client.acquire('k'), client.acquire('k'), client.acquire('k')];
    await headAsleep(log);
    log.length = 0;
    let token = first.fencingToken;
    let holder = first;
    for (const next of waiting) {
      await holder.release();
      const lock = await next;
      await turn(); // the section: the next head is asleep by its end
      expect(lock.fencingToken).toBeGreaterThan(token);
      // The backend sees each holder: inspect() shows the grant's token.
      expect((await client.inspect('k'))?.fencingToken).toBe(lock.fencingToken);
      token = lock.fencingToken;
      holder = lock;
    }
    await holder.release();
    // Three hand-overs, then the last holder's plain release; no acquire of its own per waiter.
    expect(log).toEqual(['handOver', 'handOver', 'handOver', 'release']);
    expect(await client.inspect('k')).toBeNull();
    await client.close();
  });

  it('asks the backend to yield once handOverLimit hand-overs followed one another', async () => {
    const { backend, log } = loggedBackend();
    const client = createLockClient(backend, { ttlMs: 60_000, handOverLimit: 2 });
    let holder = await client.acquire('k');
    const waiting = Array.from({ length: 4 }, () => client.acquire('k'));
    await headAsleep(log);
    log.length = 0;
    for (const next of waiting) {
      await holder.release();
      holder = await next;
      await turn();
    }
    await holder.release();
    // The memory backend cannot tell whether anyone else waits, so a yield is a plain release
    // (announced; the next waiter asks for itself), and the streak starts over.
    expect(log.filter((l) => l.startsWith('handOver'))).toEqual([
      'handOver',
      'handOver',
      'handOver yield',
      'handOver',
    ]);
    await client.close();
  });

  it('handOverLimit 0, or a backend without the capability, releases plainly', async () => {
    for (const setup of [
      { backend: loggedBackend(), limit: 0 },
      { backend: loggedBackend({ handOver: false }), limit: 16 },
    ]) {
      const { backend, log } = setup.backend;
      const client = createLockClient(backend, { ttlMs: 60_000, handOverLimit: setup.limit });
      const holder = await client.acquire('k');
      const waiting = client.acquire('k');
      await headAsleep(log);
      await holder.release();
      await (await waiting).release();
      expect(log.some((l) => l.startsWith('handOver'))).toBe(false);
      await client.close();
    }
  });

  for (const when of ['before it takes the offer', 'while it waits for the reply']) {
    it(`a waiter that gives up ${when} hands the grant straight back`, async () => {
      const { backend, log, hold, letGo } = loggedBackend();
      const client = createLockClient(backend, { ttlMs: 60_000 });
      const holder = await client.acquire('k');
      const controller = new AbortController();
      const waiting = client.acquire('k', { signal: controller.signal });
      await headAsleep(log);
      hold();
      const released = holder.release();
      expect(log.at(-1)).toBe('handOver');
      if (when === 'while it waits for the reply') await turn();
      controller.abort(new Error('gave up'));
      await expect(waiting).rejects.toThrow('gave up');
      letGo();
      expect(await released).toBe(true);
      await until(() => log.at(-1) === 'release');
      expect(await client.inspect('k')).toBeNull();
      await client.close();
    });
  }

  it('rejects a bad handOverLimit or handOverWindowMs before any I/O', () => {
    const backend = memoryBackend();
    expect(() => createLockClient(backend, { handOverLimit: -1 })).toThrow(LockArgumentError);
    expect(() => createLockClient(backend, { handOverLimit: 1.5 })).toThrow(LockArgumentError);
    expect(() => createLockClient(backend, { handOverWindowMs: -5 })).toThrow(LockArgumentError);
  });
});
