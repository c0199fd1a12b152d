import { fileURLToPath } from 'node:url';
import { createLockClient } from '@dlock/lock-core';
import {
  describeSharedReport,
  type ManagedProcess,
  requireRedisBinaries,
  runPermitHistory,
  runPermitKill,
  runReaderKill,
  runWriterUnderReaders,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const TTL_MS = 1_000;
const PREFIX = 'shared-procs:';

describe.skipIf(!binaries.available)(
  'redlock read-write locks and limit-1 semaphores across processes',
  () => {
    let nodes: RedisNodes;
    const workers: ManagedProcess[] = [];
    let contender: ReturnType<typeof createLockClient>;
    const base = () => ({
      workerScript: fileURLToPath(new URL('./workers/shared.ts', import.meta.url)),
      env: { NODE_PORTS: nodes.servers.map((s) => s.port).join(','), LOCK_PREFIX: PREFIX },
      ttlMs: TTL_MS,
      track: workers,
    });

    beforeAll(async () => {
      nodes = await startRedisNodes(5);
      contender = createLockClient(
        redlockBackend({ clients: await nodes.clients(), prefix: PREFIX, nodeTimeoutMs: 200 }),
        { ttlMs: TTL_MS },
      );
    });
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.kill()));
      await contender?.close();
      await nodes?.dispose();
    });

    it('3 processes against a limit-1 semaphore: never 2 at once', async () => {
      const report = await runPermitHistory({
        ...base(),
        key: 'history',
        limit: 1,
        processes: 3,
        rounds: 6,
      });
      expect(report).toEqual({ spans: 18, maxOverlap: 1 });
    }, 60_000);

    it("a SIGKILLed limit-1 permit holder's permit returns within its TTL", async () => {
      const report = await runPermitKill({ ...base(), key: 'permit-kill', contender });
      console.log(describeSharedReport('redlock', 'permit kill', report));
    }, 60_000);

    it('a SIGKILLed reader stops blocking a writer after its own TTL while another reader renews', async () => {
      const report = await runReaderKill({ ...base(), key: 'reader-kill', contender });
      console.log(describeSharedReport('redlock', 'reader kill', report));
    }, 60_000);

    it('a writer is served within one reader TTL under a stream of overlapping readers', async () => {
      const report = await runWriterUnderReaders({
        ...base(),
        key: 'writer-under-readers',
        contender,
      });
      console.log(describeSharedReport('redlock', 'writer under readers', report));
    }, 60_000);
  },
);
