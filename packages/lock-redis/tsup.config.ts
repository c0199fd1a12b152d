import { packageBuild } from '../../tsup.shared.js';

// internals: the scripts and helpers @dlock/redlock reuses (not covered by semver).
export default packageBuild({ index: 'src/index.ts', internals: 'src/internals.ts' });
