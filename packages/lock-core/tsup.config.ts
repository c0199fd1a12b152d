import { packageBuild } from '../../tsup.shared.js';

export default packageBuild({
  index: 'src/index.ts',
  spi: 'src/spi.ts',
  'testing/index': 'src/testing/index.ts',
});
