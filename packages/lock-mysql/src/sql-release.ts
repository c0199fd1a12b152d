import type { ReleaseResult } from '@dlock/lock-core/spi';
import type { LivenessCheck } from './liveness.js';
import type { WriteResult } from './pool-types.js';
import { LIVE, NOW } from './server-time.js';
import { insertIdOf } from './sql-runner.js';

/**
 * Owner-checked release of one hold. The row is never deleted: a freed row keeps its fencing
 * counter so the next grant's token is still larger. `LAST_INSERT_ID(count)` returns the count
 * before the release: 0 = not held, 1 = freed, more = decremented. `count` is assigned first, so
 * the later conditions see the new count.
 *
 * Bind: name, owner, [holder], ...liveness values.
 */
export function releaseSql(
  table: string,
  options: { holder?: boolean; liveness?: LivenessCheck } = {},
): string {
  const holder = options.holder ? ' AND `holder` = ?' : '';
  const live = options.liveness ? ` AND ${options.liveness.sql}` : '';
  return `UPDATE ${table} SET
  \`count\` = LAST_INSERT_ID(\`count\`) - 1,
  \`owner\` = IF(\`count\` = 0, NULL, \`owner\`),
  \`holder\` = IF(\`count\` = 0, NULL, \`holder\`),
  \`expires_at\` = IF(\`count\` = 0, ${NOW}, \`expires_at\`)
WHERE \`name\` = ? AND \`owner\` = ? AND ${LIVE}${holder}${live}`;
}

export function decodeRelease(result: WriteResult): ReleaseResult {
  const before = insertIdOf(result);
  if (before === 0n) return 'not-held';
  return before === 1n ? 'released' : 'decremented';
}
