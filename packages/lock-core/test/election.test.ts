// The core side of elections: the engine (a client on an election view of the backend),
// observe()'s loop (stale readings, failures, polling, no leaks) and the guard, on the memory
// backend with its election calls logged or scripted.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  createLockClient,
  LockArgumentError,
  type LockBackend,
  LockBackendError,
  LockClosedError,
  LockUnsupportedError,
  MemoryStore,
  memoryBackend,
} from '../src/index.js';
import { electionStoreOf } from '../src/memory/memory-election.js';
import type { CampaignWaitRequest, ElectionBackend, LeaderState } from '../src/spi.js';

/** The memory backend with its election operations changed by `edit` (and every call logged). */
function editedBackend(
  edit: (election: ElectionBackend) => Partial<Record<keyof ElectionBackend, unknown>> = () => ({}),
  store = new MemoryStore(),
) {
  const inner = memoryBackend({ store });
  const election = inner.election!;
  const log: string[] = [];
  const logged: ElectionBackend = {
    ...election,
    campaign: (r) => {
      log.push(`campaign ${r.key}${r.queue ? ' queue' : ''} ${r.value}`);
      return election.campaign(r);
    },
    abandon: (r) => {
      log.push(`abandon ${r.key}`);
      return election.abandon(r);
    },
    resign: (r) => {
      log.push(`resign ${r.key}`);
      return election.resign(r);
    },
  };
  const edited = { ...logged, ...edit(logged) } as ElectionBackend;
  const backend: LockBackend = { ...inner, election: edited };
  return { backend, log, store };
}

/** The `dlock:error` messages published while `fn` runs. */
async function errorsDuring(fn: () => Promise<void>): Promise<{ where: string }[]> {
  const seen: { where: string }[] = [];
  const listener = (message: unknown) => seen.push(message as { where: string });
  subscribe('dlock:error', listener);
  try {
    await fn();
  } finally {
    unsubscribe('dlock:error', listener);
  }
  return seen;
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('election(): the engine', () => {
  it('refuses a backend without elections with LockUnsupportedError, before any I/O', () => {
    const { election: _none, ...plain } = memoryBackend();
    const locks = createLockClient(plain);
    expect(() => locks.election('n', { value: 'v' })).toThrow(LockUnsupportedError);
    // Arguments first: a bad name is an argument error whatever the backend.
    expect(() => locks.election('', { value: 'v' })).toThrow(LockArgumentError);
  });

  it('campaigns with the value and queue flag, abandons a wait given up, resigns on resign()', async () => {
    const { backend, log } = editedBackend();
    const a = createLockClient(backend);
    const b = createLockClient(editedBackend(undefined, new MemoryStore()).backend);
    const leadership = await a.election('job', { value: 'one' }).campaign({ waitTimeoutMs: 0 });
    expect(log).toEqual(['campaign job one']);
    const controller = new AbortController();
    const waiting = a.election('job', { value: 'two' }).campaign({ signal: controller.signal });
    await Promise.resolve();
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(log).toContain('campaign job queue two');
    expect(log.at(-1)).toBe('abandon job');
    await leadership.resign();
    expect(log.at(-1)).toBe('resign job');
    await Promise.all([a.close(), b.close()]);
  });

  it('campaigns on a poll strategy too (a backend without watch)', async () => {
    const { backend } = editedBackend(() => ({
      capabilities: { watch: false, nativeWait: false, batchExtend: false },
      watch: undefined,
      extendMany: undefined,
    }));
    const locks = createLockClient(backend, { ttlMs: 1_000 });
    const election = locks.election('poll', { value: 'p' });
    const first = await election.campaign();
    const second = election.campaign({ strategy: 'poll' });
    await first.resign();
    const next = await second;
    expect(next.term).toBeGreaterThan(first.term);
    await next.resign();
    await locks.close();
  });

  it('waits on the server with a backend that has waitCampaign (nativeWait), and an abort leaves nothing', async () => {
    const calls: string[] = [];
    const { backend } = editedBackend((e) => ({
      capabilities: { ...e.capabilities, nativeWait: true },
      // A server-side wait, as etcd's would be: here a loop on the memory backend.
      async waitCampaign(r: CampaignWaitRequest) {
        calls.push(`wait ${r.value}${r.queue ? ' queue' : ''}`);
        for (;;) {
          const result = await e.campaign(r);
          if (result.acquired) return result;
          if (r.signal.aborted) {
            await e.abandon(r);
            throw r.signal.reason;
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      },
    }));
    const locks = createLockClient(backend);
    const election = locks.election('native', { value: 'n' });
    const first = await election.campaign({ strategy: 'native' });
    const second = election.campaign({ strategy: 'native' });
    const controller = new AbortController();
    const third = election.campaign({ strategy: 'native', signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(third).rejects.toThrow('gave up');
    await first.resign();
    const next = await second;
    expect(next.term).toBeGreaterThan(first.term);
    expect(calls).toContain('wait n queue');
    await next.resign();
    expect(await election.leader()).toBeNull();
    await locks.close();
  });

  it('shows a leadership without its owner token', async () => {
    const locks = createLockClient(memoryBackend(), { clientId: 'me' });
    const leadership = await locks.election('shown', { value: 'v' }).campaign();
    const json = JSON.stringify(leadership);
    expect(json).toContain('"term"');
    expect(json).not.toContain('#');
    expect(inspect(leadership)).toMatch(/^Leadership /);
    expect(inspect(locks.election('shown', { value: 'v' }))).toBe(
      'Election { name: "shown", value: "v" }',
    );
    await leadership[Symbol.asyncDispose]();
    expect(leadership.held).toBe(false);
    await locks.close();
  });

  it('wraps election failures in LockBackendError and shows only the public holder', async () => {
    const { backend } = editedBackend(() => ({
      proclaim: () => Promise.reject(new Error('connection reset')),
    }));
    const locks = createLockClient(backend, { clientId: 'me' });
    const leadership = await locks.election('g', { value: 'v' }).campaign();
    const error = await leadership.proclaim('w').catch((e: unknown) => e);
    expect(LockBackendError.isInstance(error)).toBe(true);
    expect(String((error as LockBackendError).cause)).toContain('connection reset');
    const state = await (locks as unknown as { backend: LockBackend }).backend.election!.leader(
      'g',
    );
    expect(state?.owner).toBe('me');
    expect((await locks.election('g', { value: 'x' }).leader())?.holder).toBe('me');
    await locks.close();
  });
});

describe('observe()', () => {
  it('closes its watch and leaves no timer on return() and on abort', async () => {
    const store = new MemoryStore();
    const locks = createLockClient(memoryBackend({ store }));
    const before = timers();
    const election = locks.election('leak', { value: 'v' });
    const iterator = election.observe();
    expect((await iterator.next()).value).toBeNull();
    const waiting = iterator.next();
    expect(electionStoreOf(store).watchedNames).toBe(1);
    await iterator.return!();
    expect((await waiting).done).toBe(true);
    expect(electionStoreOf(store).watchedNames).toBe(0);
    expect(timers()).toBe(before);

    const controller = new AbortController();
    const aborting = election.observe({ signal: controller.signal });
    await aborting.next();
    const pending = aborting.next();
    controller.abort();
    expect((await pending).done).toBe(true);
    expect(electionStoreOf(store).watchedNames).toBe(0);
    expect(timers()).toBe(before);
    await locks.close();
  });

  it('ends with LockClosedError when the client closes, its watch closed', async () => {
    const store = new MemoryStore();
    const locks = createLockClient(memoryBackend({ store }));
    const iterator = locks.election('closing', { value: 'v' }).observe();
    await iterator.next();
    const pending = iterator.next();
    await locks.close();
    await expect(pending).rejects.toThrow(LockClosedError);
    expect(electionStoreOf(store).watchedNames).toBe(0);
    expect(() => locks.election('closing', { value: 'v' })).toThrow(LockClosedError);
  });

  it('never reports a lower term than one it reported (a stale reading is skipped)', async () => {
    const stale: LeaderState[] = [];
    const { backend } = editedBackend((e) => ({
      leader: async (key: string) => stale.shift() ?? e.leader(key),
    }));
    const locks = createLockClient(backend);
    const election = locks.election('stale', { value: 'v' });
    const first = await election.campaign();
    const iterator = election.observe();
    expect((await iterator.next()).value?.term).toBe(first.term);
    await first.resign();
    const second = await locks.election('stale', { value: 'w' }).campaign();
    // A replica behind by one change answers the next reading: the first leader again.
    stale.push({ owner: 'old', value: 'v', term: first.term - 1n, ttlMs: 10_000 });
    const step = await iterator.next();
    expect(step.value?.term).toBe(second.term);
    expect(step.value?.value).toBe('w');
    await iterator.return!();
    await locks.close();
  });

  it('reports a backend failure on dlock:error and carries on when the backend recovers', async () => {
    let failing = 2;
    const { backend } = editedBackend((e) => ({
      leader: (key: string) =>
        failing-- > 0 ? Promise.reject(new Error('server gone')) : e.leader(key),
    }));
    const locks = createLockClient(backend);
    let first: IteratorResult<unknown> | undefined;
    const errors = await errorsDuring(async () => {
      const iterator = locks.election('flaky', { value: 'v' }).observe();
      first = await iterator.next();
      await iterator.return!();
    });
    expect(first?.value).toBeNull();
    expect(errors.map((m) => m.where)).toEqual([
      'observe: read the leader (retrying)',
      'observe: read the leader (retrying)',
    ]);
    await locks.close();
  });

  it('sees a new leader by polling when the backend has no watch, and a silent expiry', async () => {
    const { backend } = editedBackend(() => ({
      capabilities: { watch: false, nativeWait: false, batchExtend: true },
      watch: undefined,
    }));
    const watcher = createLockClient(backend);
    const stuck = createLockClient(backend, { maxHoldMs: 1_000, ttlMs: 1_000 });
    const iterator = watcher.election('polled', { value: 'w' }).observe();
    expect((await iterator.next()).value).toBeNull();
    const leadership = await stuck.election('polled', { value: 's' }).campaign();
    expect((await iterator.next()).value?.term).toBe(leadership.term);
    // The leader stops renewing (maxHoldMs) and expires without any event.
    expect((await iterator.next()).value).toBeNull();
    expect(leadership.held).toBe(false);
    await iterator.return!();
    await Promise.all([watcher.close(), stuck.close()]);
  });
});

describe('memory elections', () => {
  it('close() ends every election watch of the backend', async () => {
    const store = new MemoryStore();
    const backend = memoryBackend({ store });
    await backend.election!.watch!('a', () => {});
    await backend.election!.watch!('b', () => {});
    expect(electionStoreOf(store).watchedNames).toBe(2);
    await backend.close();
    expect(electionStoreOf(store).watchedNames).toBe(0);
  });

  it('an aborted campaign leaves no candidate queued', async () => {
    const store = new MemoryStore();
    const a = createLockClient(memoryBackend({ store }));
    const b = createLockClient(memoryBackend({ store }));
    const leadership = await a.election('q', { value: 'a' }).campaign();
    const controller = new AbortController();
    const waiting = b.election('q', { value: 'b' }).campaign({ signal: controller.signal });
    await expect.poll(() => electionStoreOf(store).queued('q')).toBe(1);
    controller.abort();
    await expect(waiting).rejects.toThrow();
    await expect.poll(() => electionStoreOf(store).queued('q')).toBe(0);
    await leadership.resign();
    await Promise.all([a.close(), b.close()]);
  });
});
