import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryStore, memoryBackend } from '../src/index.js';
import { runSharedConformance } from '../src/testing/index.js';

const store = new MemoryStore();

runSharedConformance({
  name: 'memory',
  createBackend: () => memoryBackend({ store }),
  runner: { describe, it, beforeAll, afterAll },
});
