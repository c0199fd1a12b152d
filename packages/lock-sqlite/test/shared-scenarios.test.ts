import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import {
  describeSharedReport,
  type ManagedProcess,
  makeTempDir,
  runPermitHistory,
  runPermitKill,
  runReaderKill,
  runWriterUnderReaders,
  uniqueName,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';

// test-utils' cross-process scenarios for semaphores and read-write locks, with real child
// processes on one file through the client API (waiting is polling on this backend).

const TTL_MS = 1_000;
const workerScript = fileURLToPath(new URL('./fixtures/shared-worker.ts', import.meta.url));

describe('sqlite semaphores and read-write locks across processes (client API)', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let path = '';
  let contender: LockClient;
  const track: ManagedProcess[] = [];
  const base = (label: string) => ({
    workerScript,
    env: { SQLITE_PATH: path },
    key: uniqueName(label),
    ttlMs: TTL_MS,
    track,
  });

  beforeAll(async () => {
    dir = await makeTempDir('dlock-sqlite-shared-scenarios-');
    path = join(dir.path, 'locks.db');
    contender = createLockClient(sqliteBackend({ path }), { ttlMs: TTL_MS });
  });
  afterAll(async () => {
    await Promise.all(track.map((w) => w.kill()));
    await contender.close();
    await dir.remove();
  });

  it('4 processes against limit 2: never more than 2 at once, and 2 reached', async () => {
    const report = await runPermitHistory({
      ...base('history'),
      limit: 2,
      processes: 4,
      rounds: 8,
    });
    expect(report).toEqual({ spans: 32, maxOverlap: 2 });
  }, 60_000);

  it('a SIGKILLed permit holder: its permit comes back within its TTL', async () => {
    const report = await runPermitKill({ ...base('permit-kill'), contender });
    console.log(describeSharedReport('sqlite', 'permit kill', report));
  }, 60_000);

  it('a SIGKILLed reader stops blocking a writer after its TTL while another reader renews', async () => {
    const report = await runReaderKill({ ...base('reader-kill'), contender });
    console.log(describeSharedReport('sqlite', 'reader kill', report));
  }, 60_000);

  it('a queued writer is served within one reader TTL under a stream of overlapping readers', async () => {
    const report = await runWriterUnderReaders({ ...base('writer-readers'), contender });
    console.log(describeSharedReport('sqlite', 'writer under readers', report));
  }, 60_000);
});
