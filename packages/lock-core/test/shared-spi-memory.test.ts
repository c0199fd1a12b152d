import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, memoryBackend } from '../src/index.js';
import { runSharedSpiSuite } from '../src/testing/index.js';

const runner = { describe, it, beforeAll, afterAll };

// The store's own clock, moved by hand: expiry without waiting.
let now = 1_000;
const fakeStore = new MemoryStore({ now: () => now });
runSharedSpiSuite({
  name: 'memory (fake clock)',
  createBackend: () => memoryBackend({ store: fakeStore }),
  runner,
  advanceTime: (ms) => {
    now += ms;
  },
  // Forgets the mutex's and both shared namespaces' counters of the key.
  loseFencingState: (_family, key) => fakeStore.loseFencingState(key),
});

// Real time too, as an adapter on a real server runs the suite.
const realStore = new MemoryStore();
runSharedSpiSuite({
  name: 'memory (real clock)',
  createBackend: () => memoryBackend({ store: realStore }),
  runner,
  shortTtlMs: 60,
  loseFencingState: (_family, key) => realStore.loseFencingState(key),
});

describe('memory shared keys: watches', () => {
  it('close() ends every shared watch of the backend', async () => {
    const store = new MemoryStore();
    const backend = memoryBackend({ store });
    const calls: string[] = [];
    await backend.shared!.watch!('semaphore', 'k', () => calls.push('semaphore'));
    await backend.shared!.watch!('read-write', 'k', () => calls.push('read-write'));
    expect(store.watchedKeys).toBe(2);
    await backend.close();
    expect(store.watchedKeys).toBe(0);
  });

  it('notifies only the family of the key released', async () => {
    const store = new MemoryStore();
    const backend = memoryBackend({ store });
    const calls: string[] = [];
    const handles = [
      await backend.shared!.watch!('semaphore', 'k', () => calls.push('semaphore')),
      await backend.shared!.watch!('read-write', 'k', () => calls.push('read-write')),
    ];
    const request = {
      key: 'k',
      owner: 'o',
      kind: 'write' as const,
      ttlMs: 1_000,
      limit: 1,
      permits: 1,
      changeLimit: false,
      queue: false,
    };
    await backend.shared!.tryAcquire(request);
    expect(await backend.shared!.release(request)).toBe('released');
    await Promise.resolve();
    expect(calls).toEqual(['read-write']);
    for (const handle of handles) await handle.close();
    expect(store.watchedKeys).toBe(0);
    await backend.close();
  });
});
