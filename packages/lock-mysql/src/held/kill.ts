import { monotonicNow } from '@dlock/lock-core';
import type { SqlRunner } from '../sql-runner.js';

/** Unknown thread id: the connection is already gone, which is what we wanted. */
const NO_SUCH_THREAD = 1094;

/**
 * `KILL QUERY id` stops a blocked wait (the connection survives); `KILL CONNECTION id` ends a
 * holder's connection, and with it its server lock. Sent from another pool connection, because
 * the target is busy. The id is a number we read from the handshake, bound as a parameter.
 */
export async function kill(
  sql: SqlRunner,
  what: 'QUERY' | 'CONNECTION',
  connectionId: number,
): Promise<void> {
  try {
    await sql.run('kill', `KILL ${what} ?`, [connectionId]);
  } catch (error) {
    if ((error as { cause?: { errno?: number } }).cause?.errno !== NO_SUCH_THREAD) throw error;
  }
}

/**
 * Waits until the server has finished with a killed connection: `KILL` returns before the thread
 * has rolled back and released its locks, and it leaves the process list only after that.
 */
export async function waitGone(
  sql: SqlRunner,
  connectionId: number,
  withinMs = 5_000,
): Promise<void> {
  const end = monotonicNow() + withinMs;
  for (;;) {
    const rows = await sql.rows<{ n: number }>(
      'kill',
      'SELECT COUNT(*) AS `n` FROM information_schema.PROCESSLIST WHERE `ID` = ?',
      [connectionId],
    );
    if (Number(rows[0]?.n) === 0 || monotonicNow() > end) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
