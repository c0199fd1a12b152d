import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import {
  describeFaultReport,
  type ManagedProcess,
  runFreezeScenario,
  runKillScenario,
} from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { etcdBackend } from '../src/index.js';
import { ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

const TTL_MS = 2_000;

describe.skipIf(!etcd.available)('a frozen or killed holder (real processes)', () => {
  const prefix = runPrefix('freeze-kill');
  const client = new Etcd3({ hosts: ETCD_URL });
  const workers: ManagedProcess[] = [];
  let contender: LockClient;
  const scenario = () => ({
    workerScript: fileURLToPath(new URL('./workers/fault-holder.ts', import.meta.url)),
    env: { ETCD_URL, LOCK_PREFIX: prefix },
    ttlMs: TTL_MS,
    contender,
    // etcd checks for expired leases every 500 ms, on its own clock.
    slackMs: 1_500,
    track: workers,
  });

  beforeAll(() => {
    contender = createLockClient(etcdBackend({ client, prefix }), { ttlMs: TTL_MS });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await contender?.close();
    await client.delete().prefix(prefix);
    client.close();
  });

  it('freeze: SIGSTOPped past its TTL, the holder is replaced and sees the loss at its first look', async () => {
    const report = await runFreezeScenario({ ...scenario(), key: 'frozen' });
    console.log(describeFaultReport('etcd', 'freeze', report));
  }, 30_000);

  it('kill: SIGKILLed after renewing for two TTLs, the holder frees the key within its TTL', async () => {
    const report = await runKillScenario({ ...scenario(), key: 'killed' });
    console.log(describeFaultReport('etcd', 'kill', report));
  }, 30_000);
});
