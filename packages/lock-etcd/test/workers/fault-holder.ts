/**
 * The holder of the freeze and kill scenarios (test-utils' runFaultHolder over this package's
 * backend). Env: ETCD_URL, LOCK_PREFIX, plus what the scenario sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { faultHolderConfig, runFaultHolder } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { etcdBackend } from '../../src/index.js';

const client = new Etcd3({ hosts: process.env.ETCD_URL! });
const locks = createLockClient(etcdBackend({ client, prefix: process.env.LOCK_PREFIX! }), {
  ttlMs: faultHolderConfig().ttlMs,
});
await runFaultHolder({ locks });
await locks.close();
client.close();
