import { describe, expect, it, vi } from 'vitest';
import { createLockClient, memoryBackend } from '../src/index.js';
import { useFakeClock } from './fake-clock.js';
import { scriptedBackend } from './scripted-backend.js';

useFakeClock();

const attempts = (log: string[]) => log.filter((line) => line === 'acquire k').length;

describe('local hand-off', () => {
  it('on a backend with ordered requests, the next waiter asks before the release has answered', async () => {
    const { backend, log, faults, releaseHung } = scriptedBackend({ ordered: true });
    const client = createLockClient(backend, { ttlMs: 60_000 });
    const holder = await client.acquire('k');
    const waiting = client.acquire('k');
    await vi.advanceTimersByTimeAsync(0);
    // The holder's, and the waiter's refused tries (before and after it subscribed).
    const before = attempts(log);
    faults.release = 'hang'; // sent, not yet answered (nor applied: this one is out of order)
    const released = holder.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(log.slice(-2)).toEqual(['release k', 'acquire k']);
    // Applied out of order, the early attempt was refused; the release event still hands over.
    faults.release = 'none';
    releaseHung();
    await vi.advanceTimersByTimeAsync(0);
    expect(await released).toBe(true);
    const next = await waiting;
    expect(next.fencingToken).toBeGreaterThan(holder.fencingToken);
    expect(attempts(log)).toBe(before + 2);
    await next.release();
    await client.close();
  });

  it('without ordered requests the waiter waits for the release event', async () => {
    const { backend, log, faults, releaseHung } = scriptedBackend();
    const client = createLockClient(backend, { ttlMs: 60_000 });
    const holder = await client.acquire('k');
    const waiting = client.acquire('k');
    await vi.advanceTimersByTimeAsync(0);
    const before = attempts(log);
    faults.release = 'hang';
    const released = holder.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts(log)).toBe(before);
    faults.release = 'none';
    releaseHung();
    await vi.advanceTimersByTimeAsync(0);
    await released;
    await (await waiting).release();
    expect(attempts(log)).toBe(before + 1);
    await client.close();
  });

  it('ignores release events while this client holds the key; the waiter re-checks at the TTL', async () => {
    const { backend, log, store } = scriptedBackend({ ordered: true });
    const client = createLockClient(backend, { ttlMs: 10_000 });
    const holder = await client.acquire('k');
    const waiting = client.acquire('k');
    await vi.advanceTimersByTimeAsync(0);
    const before = attempts(log);
    // An operator frees the key under our holder: the event must not send our waiter in while
    // our own lease says the key is ours (the holder would not know it had a second owner).
    const operator = memoryBackend({ store });
    expect(await operator.forceRelease!('k')).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(attempts(log)).toBe(before);
    // The safety re-check still comes when the holder's lease would have run out.
    await vi.advanceTimersByTimeAsync(10_000);
    const next = await waiting;
    expect(attempts(log)).toBe(before + 1);
    expect(holder.held).toBe(false);
    await next.release();
    await client.close();
  });
});
