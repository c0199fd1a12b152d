import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

export default mergeConfig(
  sharedTestConfig,
  defineConfig({
    test: {
      // The end-to-end tests run the built CLI (dist/bin.js) as real processes, which v8 coverage
      // of this process does not see; the in-process tests of main() and the modules are what
      // this number counts (demo.ts's orchestration and run.ts's signal paths are e2e only).
      coverage: { exclude: ['src/index.ts', 'src/bin.ts'], thresholds: { lines: 70 } },
    },
  }),
);
