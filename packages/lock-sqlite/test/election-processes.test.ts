import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import {
  type ElectionScenarioBase,
  electionScenarioTests,
  type ManagedProcess,
  makeTempDir,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';

const TTL_MS = 2_000;

describe('election scenarios (real processes on one file)', () => {
  const workers: ManagedProcess[] = [];
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let rival: LockClient;
  let base: Omit<ElectionScenarioBase, 'name'>;

  beforeAll(async () => {
    dir = await makeTempDir('dlock-sqlite-election-proc-');
    const path = join(dir.path, 'locks.db');
    rival = createLockClient(sqliteBackend({ path }), { ttlMs: TTL_MS });
    base = {
      workerScript: fileURLToPath(new URL('./fixtures/election-worker.ts', import.meta.url)),
      env: { SQLITE_PATH: path },
      ttlMs: TTL_MS,
      track: workers,
    };
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await rival?.close();
    await dir?.remove();
  });

  electionScenarioTests({ it, label: 'sqlite', base: () => ({ ...base, rival }) });
});
