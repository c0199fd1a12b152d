import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

export default mergeConfig(
  sharedTestConfig,
  defineConfig({
    test: {
      coverage: {
        // The public re-exports.
        exclude: ['src/**/*.test.ts', 'src/index.ts'],
        thresholds: { lines: 85 },
      },
    },
  }),
);
