import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SharedBackend } from '@dlock/lock-core/spi';
import {
  type ManagedProcess,
  makeTempDir,
  spawnNodeWorker,
  uniqueName,
  waitUntil,
} from '@dlock/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';
import { openRaw } from './helpers/driver.js';

// A killed holder's permit at the SPI, on the file's stored expiry: it returns after its TTL and
// never before (the client-level cross-process scenarios are in shared-scenarios.test.ts).

const HOLDER = fileURLToPath(new URL('./fixtures/lease-holder.ts', import.meta.url));

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let path: string;
const workers: ManagedProcess[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await makeTempDir('dlock-sqlite-shared-mp-');
  path = join(dir.path, 'locks.db');
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.kill()));
  await Promise.all(closers.splice(0).map((close) => close()));
});
afterAll(() => dir.remove());

function shared(): SharedBackend {
  const backend = sqliteBackend({ path });
  closers.push(() => backend.close());
  return backend.shared!;
}

/** The expiry the file holds for `owner`'s lease of `key` (wall-clock ms). */
function storedExpiry(key: string, owner: string): number {
  const raw = openRaw(path);
  try {
    const row = raw
      .prepare<[string, string], { expires_at: number }>(
        'SELECT expires_at FROM dlock_shared_leases WHERE name = ? AND owner = ?',
      )
      .get(key, owner);
    if (!row) throw new Error(`no lease of ${owner}`);
    return Number(row.expires_at);
  } finally {
    raw.close();
  }
}

describe('sqlite semaphore across processes (SPI)', () => {
  it('a SIGKILLed permit holder: its permit returns after its TTL, not before', async () => {
    const key = uniqueName('sem-kill');
    const holder = await spawnNodeWorker(HOLDER, {
      name: 'permit-holder',
      args: [path, key, 'semaphore', '2000', 'dead-holder'],
      readyWhen: /held \d+/,
    });
    workers.push(holder);
    const deadToken = BigInt(/held (\d+)/.exec(holder.output())![1]!);
    await holder.kill();
    const expiresAt = storedExpiry(key, 'dead-holder');
    const s = shared();
    const request = {
      key,
      owner: 'next',
      kind: 'semaphore' as const,
      ttlMs: 10_000,
      limit: 1,
      permits: 1,
      changeLimit: false,
      queue: true,
    };
    const granted = await waitUntil(
      async () => {
        const result = await s.tryAcquire(request);
        return result.acquired ? { ...result, at: Date.now() } : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 25, message: 'the dead holder permit returned' },
    );
    // the backend's clock is Date.now: a grant at `at` means the lease had expired by then
    expect(granted.at).toBeGreaterThanOrEqual(expiresAt);
    expect(granted.fencingToken).toBeGreaterThan(deadToken);
  }, 30_000);
});
