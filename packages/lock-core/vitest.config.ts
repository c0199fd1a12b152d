import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

export default mergeConfig(
  sharedTestConfig,
  defineConfig({
    test: {
      coverage: {
        // The SPI and public types are declarations only.
        exclude: ['src/**/*.test.ts', 'src/backend.ts', 'src/types.ts', 'src/index.ts'],
        thresholds: { lines: 90 },
      },
    },
  }),
);
