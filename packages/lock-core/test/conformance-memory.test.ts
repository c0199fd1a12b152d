import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryStore, memoryBackend } from '../src/index.js';
import { runConformance } from '../src/testing/index.js';

const store = new MemoryStore();

runConformance({
  name: 'memory',
  createBackend: () => memoryBackend({ store }),
  runner: { describe, it, beforeAll, afterAll },
  faults: { loseFencingState: (key) => store.loseFencingState(key) },
});
