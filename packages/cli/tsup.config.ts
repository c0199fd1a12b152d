import { packageBuild } from '../../tsup.shared.js';

// Declarations only for the library entry; the bin is an executable.
export default packageBuild(
  { index: 'src/index.ts', bin: 'src/bin.ts' },
  { dts: { entry: { index: 'src/index.ts' } } },
);
