import { LockArgumentError } from '@dlock/lock-core';
import { describe, expect, it, vi } from 'vitest';
import { type RedlockClientLike, redlockBackend } from '../src/index.js';
import { ReleaseCoalescer } from '../src/release-coalescer.js';
import { driftMs, rankedDescending, validityMs } from '../src/validity.js';

let nextPort = 1;

/** Enough of an ioredis client for option validation (no I/O happens before a call). */
function fakeClient(overrides: Record<string, unknown> = {}): RedlockClientLike {
  return {
    status: 'ready',
    isCluster: false,
    options: { host: '127.0.0.1', port: nextPort++ },
    defineCommand() {},
    duplicate() {
      throw new Error('not in unit tests');
    },
    incrby: async () => 0,
    info: async () => '',
    pipeline() {
      throw new Error('not in unit tests');
    },
    on() {},
    off() {},
    ...overrides,
  } as unknown as RedlockClientLike;
}

describe('options', () => {
  const three = () => [fakeClient(), fakeClient(), fakeClient()];

  it('rejects bad options with LockArgumentError before any I/O', () => {
    const bad: unknown[] = [
      undefined,
      {},
      { clients: [] },
      { clients: [fakeClient(), fakeClient()] },
      { clients: [fakeClient(), fakeClient(), {}] },
      { clients: [fakeClient(), fakeClient(), fakeClient({ isCluster: true })] },
      {
        clients: (() => {
          const c = fakeClient();
          return [c, c, fakeClient()];
        })(),
      },
      { clients: three(), prefix: 'a{b' },
      { clients: three(), driftFactor: -0.1 },
      { clients: three(), driftFactor: 1 },
      { clients: three(), driftFactor: Number.NaN },
      { clients: three(), nodeTimeoutMs: 0 },
      { clients: three(), nodeTimeoutMs: 1.5 },
      { clients: three(), subscribeTimeoutMs: -1 },
      { clients: three(), restartQuarantineMs: -1 },
      { clients: three(), restartQuarantineMs: 0.5 },
      { clients: three(), fencingRetentionMs: 0 },
      { clients: three(), fencingRetentionMs: 1.5 },
      { clients: three(), fencingRetentionMs: Number.NaN },
    ];
    for (const options of bad) {
      expect(() => redlockBackend(options as never), JSON.stringify(options)).toThrow(
        LockArgumentError,
      );
    }
  });

  it('accepts three or more clients and declares its capabilities', async () => {
    for (const fencingRetentionMs of [Number.POSITIVE_INFINITY, 60_000]) {
      await redlockBackend({ clients: three(), fencingRetentionMs }).close();
    }
    const backend = redlockBackend({ clients: three() });
    expect(backend.name).toBe('redlock');
    expect(backend.capabilities).toMatchObject({ watch: true, nativeWait: false });
    await backend.close();
  });
});

describe('duplicate nodes and unknown options', () => {
  it('refuses the same server listed twice, as two clients or twice in a URL', async () => {
    const twin = (port: number, host = '127.0.0.1') => fakeClient({ options: { host, port } });
    expect(() => redlockBackend({ clients: [twin(7001), twin(7002), twin(7001)] })).toThrow(
      /the node 127\.0\.0\.1:7001 is listed twice/,
    );
    expect(() =>
      redlockBackend({ clients: [twin(7001, 'Redis-A'), twin(7002), twin(7001, 'redis-a')] }),
    ).toThrow(LockArgumentError);
    // The same client object twice is refused too (before addresses are compared).
    const same = fakeClient();
    expect(() => redlockBackend({ clients: [same, fakeClient(), same] })).toThrow(
      /the same client twice/,
    );
    const { connectBackend } = await import('../src/index.js');
    for (const url of [
      'redlock:127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7001',
      'redlock:127.0.0.1,127.0.0.1:6379,127.0.0.2',
      'redlock:[::1]:7001,127.0.0.1,[::1]:7001',
    ]) {
      await expect(connectBackend(new URL(url)), url).rejects.toThrow(/listed twice/);
    }
  });

  it('refuses unknown options and URL parameters, naming the known ones', async () => {
    expect(() =>
      redlockBackend({ clients: [fakeClient(), fakeClient(), fakeClient()], prefx: 'a' } as never),
    ).toThrow(
      /Unknown option "prefx" for redlockBackend; known options: clients, prefix, driftFactor/,
    );
    const { connectBackend } = await import('../src/index.js');
    await expect(
      connectBackend(new URL('redlock:127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003?prefx=a')),
    ).rejects.toThrow(
      /unknown URL's query parameter "prefx"; known: prefix, driftFactor, .*password/,
    );
    await expect(
      connectBackend(new URL('redlock:127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003'), {
        prefx: 'a',
      }),
    ).rejects.toThrow(/unknown option "prefx"; known: prefix, .*tls/);
  });
});

describe('validity', () => {
  it('allows ttl * driftFactor + 2 ms for drift, rounded up', () => {
    expect(driftMs(10_000, 0.01)).toBe(102);
    expect(driftMs(250, 0.01)).toBe(5);
    expect(driftMs(1_000, 0)).toBe(2);
  });

  it('is ttl - elapsed - drift, floored so it is never later than the real end', () => {
    expect(validityMs(10_000, 12.7, 102)).toBe(9_885);
    expect(validityMs(1, 0.1, 2)).toBeLessThan(1);
  });

  it('takes the quorum-th largest remaining TTL: how long a majority still holds it', () => {
    expect(rankedDescending([100, 500, 300, 200, 400], 3)).toBe(300);
    expect(rankedDescending([100, 200], 3)).toBe(0);
  });
});

describe('release coalescing', () => {
  it('passes on one wake-up per release, however many nodes report it', () => {
    let now = 0;
    const onRelease = vi.fn();
    const coalescer = new ReleaseCoalescer(50, onRelease, () => now);
    for (const node of [2, 0, 1, 4, 3]) coalescer.heard(node, 'digest-a');
    expect(onRelease).toHaveBeenCalledTimes(1);
    // The same node with the same message inside the window: a second release of that owner.
    coalescer.heard(0, 'digest-a');
    expect(onRelease).toHaveBeenCalledTimes(2);
    for (const node of [1, 2, 3, 4]) coalescer.heard(node, 'digest-a');
    expect(onRelease).toHaveBeenCalledTimes(2);
    // After the window, any report is a new wake-up (spurious ones are harmless).
    now = 51;
    coalescer.heard(4, 'digest-a');
    expect(onRelease).toHaveBeenCalledTimes(3);
    coalescer.close();
  });

  it('tells the next release from a copy by its message, on whichever nodes it is published', () => {
    const onRelease = vi.fn();
    const coalescer = new ReleaseCoalescer(50, onRelease, () => 0);
    // A release published only where a waiter was refused (nodes 1 and 4), then the next
    // owner's release on the other nodes, well inside the window: two wake-ups.
    coalescer.heard(4, 'digest-a');
    coalescer.heard(1, 'digest-a');
    for (const node of [0, 2, 3]) coalescer.heard(node, 'digest-b');
    expect(onRelease).toHaveBeenCalledTimes(2);
  });

  it('passes on every message that carries no identity, and every resubscribe wake-up', () => {
    const onRelease = vi.fn();
    const coalescer = new ReleaseCoalescer(50, onRelease, () => 0);
    for (const node of [0, 1, 2]) coalescer.heard(node, 'released');
    coalescer.heard(3);
    expect(onRelease).toHaveBeenCalledTimes(4);
  });
});
