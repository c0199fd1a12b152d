/**
 * In the connection-bound modes a state row only counts while the connection recorded in
 * `holder` still holds the server-side lock; a holder whose connection died leaves a row that
 * must read as free. Each mode supplies the SQL condition that checks it.
 */
export interface LivenessCheck {
  /** A condition on the row, with `?` placeholders for `values`. */
  readonly sql: string;
  readonly values: readonly unknown[];
}

/** `get-lock`: the named lock is held by the recorded connection. */
export function namedLockLiveness(lockName: string): LivenessCheck {
  return { sql: 'IS_USED_LOCK(?) = `holder`', values: [lockName] };
}

/**
 * `for-update`: the recorded connection still exists (its open transaction holds the row lock;
 * the adapter clears the row before it commits). Reading other users' connections needs the
 * PROCESS privilege. Not `information_schema.INNODB_TRX`: InnoDB serves it from a cache refreshed
 * at most every 100 ms, so a holder that just got its grant would read as dead.
 */
export const connectionLiveness: LivenessCheck = {
  sql: '`holder` IN (SELECT `ID` FROM information_schema.PROCESSLIST)',
  values: [],
};
