import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  target: 'node20',
  dts: true,
  sourcemap: true,
  clean: true,
  splitting: true,
  treeshake: true,
  // Peer and workspace dependencies stay imports: one copy of lock-core's error classes.
  external: ['mysql2', 'mysql2/promise', '@dlock/lock-core'],
});
