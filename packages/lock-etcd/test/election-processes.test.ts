import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import {
  type ElectionScenarioBase,
  electionScenarioTests,
  type ManagedProcess,
} from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { etcdBackend } from '../src/index.js';
import { ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

// etcd leases are whole seconds and etcd's shortest is 2 s here (a 1 s lease is granted as 2 s).
const TTL_MS = 2_000;

describe.skipIf(!etcd.available)('election scenarios (real processes on the shared etcd)', () => {
  const workers: ManagedProcess[] = [];
  const prefix = runPrefix('election-proc');
  const client = new Etcd3({ hosts: ETCD_URL });
  let rival: LockClient;
  let base: Omit<ElectionScenarioBase, 'name'>;

  beforeAll(() => {
    rival = createLockClient(etcdBackend({ client, prefix }), { ttlMs: TTL_MS });
    base = {
      workerScript: fileURLToPath(new URL('./fixtures/election-worker.ts', import.meta.url)),
      env: { ETCD_URL, DLOCK_ETCD_PREFIX: prefix },
      ttlMs: TTL_MS,
      track: workers,
    };
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await rival?.close();
    client.close();
  });

  electionScenarioTests({ it, label: 'etcd', base: () => ({ ...base, rival }) });
});
