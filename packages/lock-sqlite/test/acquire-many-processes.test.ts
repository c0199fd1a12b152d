import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ManagedProcess, makeTempDir, runOppositeOrders } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('acquireAll across processes on one file', () => {
  const workers: ManagedProcess[] = [];
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    dir = await makeTempDir('dlock-sqlite-many-proc-');
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await dir?.remove();
  });

  it('two processes taking three keys in opposite orders both finish every round, never overlapping', async () => {
    const report = await runOppositeOrders({
      workerScript: fileURLToPath(new URL('./fixtures/multi-worker.ts', import.meta.url)),
      env: { SQLITE_PATH: join(dir.path, 'locks.db') },
      keys: ['alpha', 'beta', 'gamma'],
      ttlMs: 2_000,
      track: workers,
    });
    expect(report.maxOverlap).toBe(1);
  }, 120_000);
});
