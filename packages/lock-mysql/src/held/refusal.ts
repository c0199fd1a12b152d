import type { Refused } from '@dlock/lock-core';
import type { SqlRunner } from '../sql-runner.js';
import { kill, waitGone } from './kill.js';
import type { StateRows } from './state-rows.js';

/**
 * A refusal with the holder's remaining lease as the retry hint.
 *
 * A holder whose lease ran out while its connection still holds the server lock (its process
 * stalled, so its own TTL timer could not fire) has its connection ended here, so the TTL means
 * what it means in `row` mode. This takes nothing from a live holder: an expired row can no
 * longer be extended or re-entered, so that holder has lost the lock already. Ending another
 * user's connection needs CONNECTION_ADMIN (MySQL) / CONNECTION ADMIN (MariaDB); without it the
 * lock waits for the holder's own timer.
 */
export async function refuse(sql: SqlRunner, state: StateRows, key: string): Promise<Refused> {
  const current = await state.current(key);
  if (!current) return { acquired: false, retryAfterMs: undefined };
  if (current.remainingUs > 0) {
    return { acquired: false, retryAfterMs: Math.ceil(current.remainingUs / 1000) };
  }
  try {
    await kill(sql, 'CONNECTION', current.holder);
    await waitGone(sql, current.holder);
  } catch {
    // Not permitted, or the server is busy: the holder's own timer still ends it.
  }
  return { acquired: false, retryAfterMs: 0 };
}
