import { join } from 'node:path';
import { runSharedSpiSuite } from '@dlock/lock-core/testing';
import { makeTempDir } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';

// The shared-key SPI suite on one file: each call opens its own connection, as another process
// would. Once on the wall clock (real waits), once on a clock moved by hand (the `clock` option,
// which decides expiry), so the expiry scenarios run without waiting.

const dir = await makeTempDir('dlock-sqlite-shared-kit-');
afterAll(() => dir.remove());
const runner = { describe, it, beforeAll, afterAll };

const realPath = join(dir.path, 'real.db');
runSharedSpiSuite({
  name: 'sqlite (wall clock)',
  createBackend: () => sqliteBackend({ path: realPath }),
  runner,
  shortTtlMs: 100,
});

const fakePath = join(dir.path, 'fake.db');
let offset = 0;
runSharedSpiSuite({
  name: 'sqlite (clock moved by hand)',
  createBackend: () => sqliteBackend({ path: fakePath, clock: () => Date.now() + offset }),
  runner,
  advanceTime: (ms) => {
    offset += ms;
  },
});
