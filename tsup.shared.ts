import { defineConfig, type Options } from 'tsup';

/**
 * Build settings every package shares: ESM only, for Node.js 20, with declarations and
 * sourcemaps. tsup never bundles `dependencies` or `peerDependencies`, so drivers stay the user's
 * and every adapter imports the one installed copy of lock-core (its error classes and
 * AsyncLocalStorage state must not be duplicated).
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
