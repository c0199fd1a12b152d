import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryStore, memoryBackend } from '../src/index.js';
import { electionStoreOf } from '../src/memory/memory-election.js';
import { runElectionSpiSuite } from '../src/testing/index.js';

const runner = { describe, it, beforeAll, afterAll };

// The store's own clock, moved by hand: expiry without waiting.
let now = 1_000;
const fakeStore = new MemoryStore({ now: () => now });
runElectionSpiSuite({
  name: 'memory (fake clock)',
  createBackend: () => memoryBackend({ store: fakeStore }),
  runner,
  candidateQueue: true,
  advanceTime: (ms) => {
    now += ms;
  },
  loseTermState: (name) => electionStoreOf(fakeStore).loseTermState(name),
});

// Real time too, as an adapter on a real server runs the suite.
const realStore = new MemoryStore();
runElectionSpiSuite({
  name: 'memory (real clock)',
  createBackend: () => memoryBackend({ store: realStore }),
  runner,
  candidateQueue: true,
  shortTtlMs: 60,
  loseTermState: (name) => electionStoreOf(realStore).loseTermState(name),
});
