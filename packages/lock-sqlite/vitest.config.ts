import { createRequire } from 'node:module';
import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

/**
 * The suite runs once per SQLite driver (a vitest project each, with DLOCK_SQLITE_DRIVER set, which
 * the fixtures' child processes inherit). `DLOCK_SQLITE_DRIVERS=node:sqlite,better-sqlite3` names
 * them; otherwise every driver this Node.js can load runs: node:sqlite on 22.13+ and 24,
 * better-sqlite3 where its addon was built for this Node.js. In CI, better-sqlite3 is required
 * unless DLOCK_SQLITE_DRIVERS leaves it out (the Node 24 leg does when it cannot build the addon).
 */
function drivers(): string[] {
  const named = process.env.DLOCK_SQLITE_DRIVERS;
  if (named) return named.split(',');
  const found: string[] = [];
  if (
    (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:sqlite')
  ) {
    found.push('node:sqlite');
  }
  try {
    const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3');
    new BetterSqlite3(':memory:').close();
    found.push('better-sqlite3');
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    console.warn(
      `lock-sqlite: better-sqlite3 skipped on ${process.version}: ${(error as Error).message}`,
    );
  }
  return found;
}

export default mergeConfig(
  sharedTestConfig,
  defineConfig({
    test: {
      projects: drivers().map((driver) => ({
        extends: true,
        test: { name: driver, env: { DLOCK_SQLITE_DRIVER: driver } },
      })),
      coverage: {
        exclude: ['src/index.ts'],
      },
    },
  }),
);
