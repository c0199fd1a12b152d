import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

export default mergeConfig(
  sharedTestConfig,
  defineConfig({
    test: {
      coverage: {
        // Type-only modules and the public re-exports.
        exclude: ['src/**/*.test.ts', 'src/driver.ts', 'src/index.ts'],
        thresholds: { lines: 85 },
      },
    },
  }),
);
