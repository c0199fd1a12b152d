import { packageBuild } from '../../tsup.shared.js';

export default packageBuild({
  index: 'src/index.ts',
  redis: 'src/redis.ts',
  mysql: 'src/mysql.ts',
});
