import { join } from 'node:path';
import { runBackendSpiSuite, runConformance } from '@dlock/lock-core/testing';
import { makeTempDir } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';
import { openRaw } from './helpers/driver.js';

const dir = await makeTempDir('dlock-sqlite-kit-');
const path = join(dir.path, 'locks.db');
afterAll(() => dir.remove());

// Each call opens its own connection to the same file, as another process would.
runConformance({
  name: 'sqlite',
  createBackend: () => sqliteBackend({ path }),
  runner: { describe, it, beforeAll, afterAll },
  // The kit's default 250 ms lease is shorter than a stall of a synchronous driver on a loaded
  // two-core CI machine: a task stalled past its lease lets the next one in, as a lease should.
  traits: { shortTtlMs: 750 },
  // The file's one counter reset, as an OS crash under synchronous 'normal' can leave it.
  faults: {
    loseFencingState: () => {
      const db = openRaw(path);
      try {
        db.prepare('UPDATE dlock_fencing SET last_token = 0 WHERE id = 1').run();
      } finally {
        db.close();
      }
    },
  },
});

runBackendSpiSuite({
  name: 'sqlite',
  createBackend: () => sqliteBackend({ path }),
  runner: { describe, it, beforeAll, afterAll },
});
