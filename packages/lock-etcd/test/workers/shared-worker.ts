/**
 * A worker of the cross-process semaphore and read-write scenarios (test-utils'
 * runSharedWorker over this package's backend). Env: ETCD_URL, LOCK_PREFIX, plus what the
 * scenario sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { runSharedWorker, sharedWorkerConfig } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { etcdBackend } from '../../src/index.js';

const client = new Etcd3({ hosts: process.env.ETCD_URL! });
const locks = createLockClient(etcdBackend({ client, prefix: process.env.LOCK_PREFIX! }), {
  ttlMs: sharedWorkerConfig().ttlMs,
});
await runSharedWorker({ locks });
await locks.close();
client.close();
