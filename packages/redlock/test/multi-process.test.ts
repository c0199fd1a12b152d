import { fileURLToPath } from 'node:url';
import {
  assertExclusion,
  type ManagedProcess,
  requireRedisBinaries,
  runExclusionWorkers,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const PROCESSES = 4;
const SECTIONS = 25;

describe.skipIf(!binaries.available)('multi-process exclusion over 5 redlock nodes', () => {
  let nodes: RedisNodes;
  const workers: ManagedProcess[] = [];
  beforeAll(async () => {
    nodes = await startRedisNodes(5);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await nodes?.dispose();
  });

  it(`${PROCESSES} processes x ${SECTIONS} read-yield-write sections: no lost update, tokens increase in write order`, async () => {
    const result = await runExclusionWorkers({
      workerScript: fileURLToPath(new URL('./workers/counter.ts', import.meta.url)),
      processes: PROCESSES,
      sections: SECTIONS,
      env: { NODE_PORTS: nodes.servers.map((s) => s.port).join(','), LOCK_PREFIX: 'mp:' },
      track: workers,
    });
    assertExclusion(result, { processes: PROCESSES, sections: SECTIONS });
  }, 90_000);
});
