/**
 * The holder of the freeze and kill scenarios (test-utils' runFaultHolder over Redlock).
 * Env: NODE_PORTS (comma-separated), LOCK_PREFIX, plus what the scenario sets.
 */
import { createLockClient } from '@dlock/lock-core';
import { faultHolderConfig, runFaultHolder } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { redlockBackend } from '../../src/index.js';

const clients = process.env
  .NODE_PORTS!.split(',')
  .map((port) => new Redis({ host: '127.0.0.1', port: Number(port) }));
const locks = createLockClient(
  redlockBackend({ clients, prefix: process.env.LOCK_PREFIX!, nodeTimeoutMs: 200 }),
  { ttlMs: faultHolderConfig().ttlMs },
);
await runFaultHolder({ locks });
await locks.close();
await Promise.all(clients.map((c) => c.quit()));
