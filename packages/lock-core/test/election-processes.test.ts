// The cross-process election scenarios of @dlock/test-utils on the reference backend: a memory
// store served by this process over a socket, leaders in child processes killed and frozen.
import { fileURLToPath } from 'node:url';
import {
  type ElectionScenarioBase,
  electionScenarioTests,
  type ManagedProcess,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createLockClient, type LockClient } from '../src/index.js';
import { serveMemory, socketBackend } from './socket-memory.js';

const TTL_MS = 1_500;

describe('election scenarios (memory over a socket, real processes)', () => {
  const workers: ManagedProcess[] = [];
  let server: Awaited<ReturnType<typeof serveMemory>>;
  let rival: LockClient;
  let base: Omit<ElectionScenarioBase, 'name'>;

  beforeAll(async () => {
    server = await serveMemory();
    rival = createLockClient(await socketBackend(server.path), { ttlMs: TTL_MS });
    base = {
      workerScript: fileURLToPath(new URL('./workers/election-worker.ts', import.meta.url)),
      env: { DLOCK_MEMORY_SOCKET: server.path },
      ttlMs: TTL_MS,
      track: workers,
    };
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await rival.close();
    await server.close();
  });

  electionScenarioTests({ it, label: 'memory', base: () => ({ ...base, rival }) });
});
