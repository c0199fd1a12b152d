import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

export default mergeConfig(
  sharedTestConfig,
  defineConfig({
    test: {
      // The end-to-end tests run the built CLI (dist/bin.js) as real processes.
      coverage: { exclude: ['src/index.ts', 'src/bin.ts'] },
    },
  }),
);
