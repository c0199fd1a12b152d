import { describe, expect, it } from 'vitest';
import {
  type AcquireResult,
  createLockClient,
  type LockBackend,
  memoryBackend,
  type NativeWaitRequest,
} from '../src/index.js';

/**
 * A backend whose native wait ends only when the test grants or refuses it, so the test sees
 * exactly which calls are inside `waitAcquire` at any moment.
 */
function nativeBackend() {
  const inner = memoryBackend();
  const inside: { request: NativeWaitRequest; answer: (result: AcquireResult) => void }[] = [];
  const backend: LockBackend = {
    ...inner,
    capabilities: { ...inner.capabilities, nativeWait: true },
    waitAcquire: (request) =>
      new Promise<AcquireResult>((resolve, reject) => {
        const entry = { request, answer: resolve };
        inside.push(entry);
        request.signal.addEventListener(
          'abort',
          () => {
            inside.splice(inside.indexOf(entry), 1);
            reject(request.signal.reason);
          },
          { once: true },
        );
      }).then((result) => {
        const index = inside.findIndex((e) => e.request === request);
        if (index !== -1) inside.splice(index, 1);
        // A grant is real: record it in the memory store, as a backend would on the server.
        return result.acquired ? inner.tryAcquire(request) : result;
      }),
  };
  return { backend, inside };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('native waits', () => {
  it('only the head of a key line is inside waitAcquire; the next goes in as it returns, in arrival order', async () => {
    const { backend, inside } = nativeBackend();
    const client = createLockClient(backend, { ttlMs: 60_000 });
    const order: number[] = [];
    const calls = [1, 2, 3].map((n) =>
      client.acquire('k').then((lock) => {
        order.push(n);
        return lock;
      }),
    );
    const other = client.acquire('other');
    await turn();
    // One wait per key: the first caller of 'k', and the one of 'other'.
    expect(inside.map((e) => e.request.key).sort()).toEqual(['k', 'other']);
    const first = inside.find((e) => e.request.key === 'k')!;
    first.answer({ acquired: true, fencingToken: 0n, reentered: false, ttlMs: 60_000 });
    const lock1 = await calls[0]!;
    await turn();
    // The second caller now waits on the server (the first holds the key), the third locally.
    expect(inside.filter((e) => e.request.key === 'k')).toHaveLength(1);
    await lock1.release();
    inside
      .find((e) => e.request.key === 'k')!
      .answer({
        acquired: true,
        fencingToken: 0n,
        reentered: false,
        ttlMs: 60_000,
      });
    await (await calls[1]!).release();
    await turn();
    inside
      .find((e) => e.request.key === 'k')!
      .answer({
        acquired: true,
        fencingToken: 0n,
        reentered: false,
        ttlMs: 60_000,
      });
    await (await calls[2]!).release();
    expect(order).toEqual([1, 2, 3]);
    inside.find((e) => e.request.key === 'other')!.answer({ acquired: false });
    await expect(other).rejects.toMatchObject({ code: 'DLOCK_TIMEOUT' });
    await client.close();
  });

  it('an aborted waiter behind the head leaves without reaching the backend; an aborted head hands on at once', async () => {
    const { backend, inside } = nativeBackend();
    const client = createLockClient(backend, { ttlMs: 60_000 });
    const headAbort = new AbortController();
    const middleAbort = new AbortController();
    const head = client.acquire('k', { signal: headAbort.signal });
    const middle = client.acquire('k', { signal: middleAbort.signal });
    const last = client.acquire('k');
    await turn();
    expect(inside).toHaveLength(1);
    const headRequest = inside[0]!.request;
    middleAbort.abort(new Error('middle gave up'));
    await expect(middle).rejects.toThrow('middle gave up');
    expect(inside.map((e) => e.request)).toEqual([headRequest]);
    headAbort.abort(new Error('head gave up'));
    await expect(head).rejects.toThrow('head gave up');
    await turn();
    // The last caller is the head now and waits on the server in its own call.
    expect(inside).toHaveLength(1);
    expect(inside[0]!.request).not.toBe(headRequest);
    inside[0]!.answer({ acquired: true, fencingToken: 0n, reentered: false, ttlMs: 60_000 });
    await (await last).release();
    await client.close();
  });
});
