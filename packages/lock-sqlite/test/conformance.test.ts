import { join } from 'node:path';
import { runConformance } from '@dlock/lock-core/testing';
import { makeTempDir } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';

const dir = await makeTempDir('dlock-sqlite-kit-');
const path = join(dir.path, 'locks.db');
afterAll(() => dir.remove());

// Each call opens its own connection to the same file, as another process would.
runConformance({
  name: 'sqlite',
  createBackend: () => sqliteBackend({ path }),
  runner: { describe, it, beforeAll, afterAll },
});
