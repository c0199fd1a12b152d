import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryStore, memoryBackend } from '../src/index.js';
import { runBackendSpiSuite, runConformance } from '../src/testing/index.js';

const store = new MemoryStore();
const runner = { describe, it, beforeAll, afterAll };

runConformance({
  name: 'memory',
  createBackend: () => memoryBackend({ store }),
  runner,
  faults: { loseFencingState: (key) => store.loseFencingState(key) },
});

runBackendSpiSuite({ name: 'memory', createBackend: () => memoryBackend({ store }), runner });
