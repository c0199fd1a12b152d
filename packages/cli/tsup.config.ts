import { packageBuild } from '../../tsup.shared.js';

// Declarations only for the library entry; the bin and the guardian (started by `dlock run`)
// are executables.
export default packageBuild(
  { index: 'src/index.ts', bin: 'src/bin.ts', guardian: 'src/guardian.ts' },
  { dts: { entry: { index: 'src/index.ts' } } },
);
