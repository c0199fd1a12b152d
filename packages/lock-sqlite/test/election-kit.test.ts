import { join } from 'node:path';
import { runElectionConformance, runElectionSpiSuite } from '@dlock/lock-core/testing';
import { makeTempDir } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';
import { openRaw } from './helpers/driver.js';

// The election kits on one file: each call opens its own connection, as another process would.
// The SPI suite runs once on the wall clock and once on a clock moved by hand (the `clock`
// option, which decides expiry), so its expiry scenarios also run without waiting.

const dir = await makeTempDir('dlock-sqlite-election-kit-');
afterAll(() => dir.remove());
const runner = { describe, it, beforeAll, afterAll };

const realPath = join(dir.path, 'real.db');
runElectionSpiSuite({
  name: 'sqlite (wall clock)',
  createBackend: () => sqliteBackend({ path: realPath }),
  runner,
  shortTtlMs: 100,
  candidateQueue: true,
  // The name's term counter back to 0 (a row lost with the last commits): the time floor remains.
  loseTermState: (name) => {
    const db = openRaw(realPath);
    try {
      db.prepare('UPDATE dlock_elections SET term = 0 WHERE name = ?').run(name);
    } finally {
      db.close();
    }
  },
});

const fakePath = join(dir.path, 'fake.db');
let offset = 0;
runElectionSpiSuite({
  name: 'sqlite (clock moved by hand)',
  createBackend: () => sqliteBackend({ path: fakePath, clock: () => Date.now() + offset }),
  runner,
  candidateQueue: true,
  advanceTime: (ms) => {
    offset += ms;
  },
});

const clientPath = join(dir.path, 'client.db');
runElectionConformance({
  name: 'sqlite',
  createBackend: () => sqliteBackend({ path: clientPath }),
  runner,
});
