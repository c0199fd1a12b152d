/**
 * One process of the cross-process read-write / limit-1 semaphore scenarios (test-utils'
 * runSharedWorker over Redlock). Env: NODE_PORTS (comma-separated), LOCK_PREFIX, plus what the
 * scenario sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { runSharedWorker, sharedWorkerConfig } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { redlockBackend } from '../../src/index.js';

const clients = process.env
  .NODE_PORTS!.split(',')
  .map((port) => new Redis({ host: '127.0.0.1', port: Number(port), enableOfflineQueue: false }));
await Promise.all(
  clients.map(
    (c) => new Promise((resolve) => (c.status === 'ready' ? resolve(0) : c.once('ready', resolve))),
  ),
);
const locks = createLockClient(
  redlockBackend({ clients, prefix: process.env.LOCK_PREFIX!, nodeTimeoutMs: 200 }),
  { ttlMs: sharedWorkerConfig().ttlMs },
);
await runSharedWorker({ locks });
await locks.close();
await Promise.all(clients.map((c) => c.quit()));
