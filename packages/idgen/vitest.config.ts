import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

export default mergeConfig(
  sharedTestConfig,
  defineConfig({
    test: {
      testTimeout: 30_000,
      coverage: { thresholds: { lines: 90 } },
    },
  }),
);
