/**
 * A leader of the election scenarios (test-utils' runElectionWorker) on the memory backend the
 * test process serves over a socket. Env: DLOCK_MEMORY_SOCKET, plus what the scenario sets.
 */
import { electionWorkerConfig, runElectionWorker } from '@dlock/test-utils';
import { createLockClient } from '../../src/index.js';
import { socketBackend } from '../socket-memory.js';

const locks = createLockClient(await socketBackend(process.env.DLOCK_MEMORY_SOCKET!), {
  ttlMs: electionWorkerConfig().ttlMs,
});
await runElectionWorker({ locks });
await locks.close();
