/**
 * A leader of the election scenarios (test-utils' runElectionWorker over Redlock), or with
 * WORKER_KIND=multi a process of the several-keys scenario (runMultiWorker).
 * Env: NODE_PORTS (comma-separated), LOCK_PREFIX, WORKER_KIND, plus what the scenario sets.
 */
import { createLockClient } from '@dlock/lock-core';
import {
  electionWorkerConfig,
  multiWorkerConfig,
  runElectionWorker,
  runMultiWorker,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { redlockBackend } from '../../src/index.js';

const multi = process.env.WORKER_KIND === 'multi';
const clients = process.env
  .NODE_PORTS!.split(',')
  .map((port) => new Redis({ host: '127.0.0.1', port: Number(port) }));
// Connected before the first campaign: on a loaded machine five connections may take longer
// than one node timeout, and a campaign on nodes still connecting fails with no quorum.
await Promise.all(
  clients.map((c) =>
    c.status === 'ready' ? undefined : new Promise((ready) => c.once('ready', ready)),
  ),
);
const locks = createLockClient(
  redlockBackend({ clients, prefix: process.env.LOCK_PREFIX!, nodeTimeoutMs: 200 }),
  { ttlMs: multi ? multiWorkerConfig().ttlMs : electionWorkerConfig().ttlMs },
);
if (multi) await runMultiWorker({ locks });
else await runElectionWorker({ locks });
await locks.close();
await Promise.all(clients.map((c) => c.quit()));
