import { defineConfig, type Options } from 'tsup';

/**
 * Build settings every package shares: ESM only, for Node.js 20, with declarations and
 * sourcemaps. tsup leaves every `dependencies` and `peerDependencies` entry as an import (it
 * bundles neither), so drivers stay the user's. That alone does not make one copy of lock-core:
 * the adapters, redlock, idgen and tx declare `@dlock/lock-core` as a peer dependency, so the
 * package manager resolves them to the application's own copy (one set of error classes and one
 * AsyncLocalStorage for reentrancy); the CLI, an application, depends on it directly.
 */
export function packageBuild(entry: Record<string, string>, overrides: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    target: 'node20',
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: true,
    ...overrides,
  });
}
