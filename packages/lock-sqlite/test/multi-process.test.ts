import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  assertExclusion,
  type ManagedProcess,
  makeTempDir,
  runExclusionWorkers,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';

const WORKERS = 6;
const SECTIONS = 25;
const worker = fileURLToPath(new URL('./fixtures/exclusion-worker.ts', import.meta.url));

describe('sqlite backend across processes', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  const workers: ManagedProcess[] = [];
  beforeAll(async () => {
    dir = await makeTempDir('dlock-sqlite-mp-');
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await dir.remove();
  });

  it(`excludes ${WORKERS} processes on one file, with fencing tokens in grant order`, async () => {
    const result = await runExclusionWorkers({
      workerScript: worker,
      processes: WORKERS,
      sections: SECTIONS,
      key: 'exclusion',
      name: 'worker',
      args: [join(dir.path, 'locks.db')],
      track: workers,
    });
    assertExclusion(result, { processes: WORKERS, sections: SECTIONS });
  }, 90_000);
});
