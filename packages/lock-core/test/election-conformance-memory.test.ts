import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryStore, memoryBackend } from '../src/index.js';
import { runElectionConformance } from '../src/testing/index.js';

const store = new MemoryStore();

runElectionConformance({
  name: 'memory',
  createBackend: () => memoryBackend({ store }),
  runner: { describe, it, beforeAll, afterAll },
});
