import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import {
  describeFaultReport,
  type ManagedProcess,
  makeTempDir,
  runFreezeScenario,
  runKillScenario,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';

const TTL_MS = 2_000;

describe('a frozen or killed holder (real processes)', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let contender: LockClient;
  let path = '';
  const workers: ManagedProcess[] = [];
  const scenario = () => ({
    workerScript: fileURLToPath(new URL('./fixtures/fault-holder.ts', import.meta.url)),
    env: { SQLITE_PATH: path },
    ttlMs: TTL_MS,
    contender,
    track: workers,
  });

  beforeAll(async () => {
    dir = await makeTempDir('dlock-sqlite-fault-');
    path = join(dir.path, 'locks.db');
    contender = createLockClient(sqliteBackend({ path }), { ttlMs: TTL_MS });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await contender?.close();
    await dir?.remove();
  });

  it('freeze: SIGSTOPped past its TTL, the holder is replaced and sees the loss at its first look', async () => {
    const report = await runFreezeScenario({ ...scenario(), key: 'frozen' });
    console.log(describeFaultReport('sqlite', 'freeze', report));
  }, 30_000);

  it('kill: SIGKILLed after renewing for two TTLs, the holder frees the key within its TTL', async () => {
    const report = await runKillScenario({ ...scenario(), key: 'killed' });
    console.log(describeFaultReport('sqlite', 'kill', report));
  }, 30_000);
});
