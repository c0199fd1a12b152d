import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

export default mergeConfig(
  sharedTestConfig,
  defineConfig({
    test: {
      // The end-to-end tests run the built CLI (dist/bin.js) as real processes, which v8 coverage
      // of this process does not see; the in-process tests of main() and the modules are what
      // this number counts (demo.ts's orchestration and run.ts's signal paths are e2e only).
      // guardian.ts, like bin.ts, is a process entry point: it only ever runs as the guardian
      // process that `dlock run` starts, tested end to end in test/run-guardian.e2e.test.ts.
      coverage: {
        exclude: ['src/index.ts', 'src/bin.ts', 'src/guardian.ts'],
        thresholds: { lines: 70 },
      },
    },
  }),
);
