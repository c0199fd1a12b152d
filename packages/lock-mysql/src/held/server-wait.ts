import { type AcquireResult, monotonicNow, type NativeWaitRequest } from '@dlock/lock-core';
import { reported } from '@dlock/lock-core/spi';
import type { MysqlPoolConnection } from '../pool-types.js';
import type { SqlRunner } from '../sql-runner.js';
import type { Background } from './background.js';
import { kill } from './kill.js';
import type { Primitive } from './primitive.js';

/** Without a hint, a server-side waiter re-checks the holder's lease this often. */
const RECHECK_MS = 5_000;

export interface ServerWaitHost {
  readonly sql: SqlRunner;
  readonly primitive: Primitive;
  readonly background: Background;
  /** A refusal for `key` (ends a stalled holder), with the holder's remaining lease. */
  refuse(key: string): Promise<{ readonly retryAfterMs?: number | undefined }>;
  /** Records the grant `connection` just got and starts its session. */
  grant(connection: MysqlPoolConnection, request: NativeWaitRequest): Promise<AcquireResult>;
}

/**
 * Waits for the key on the server, on a connection of its own, until granted, out of time, or
 * stopped. The server wait ends early only by `KILL QUERY` from another connection, sent when
 * `stop` aborts; the waiting connection is then never reused (the kill could still be in
 * flight), and a grant that raced the abort goes with it. The wait wakes when the holder's lease
 * would end, to cut off a holder that stalled past it.
 */
export async function waitOnServer(
  host: ServerWaitHost,
  request: NativeWaitRequest,
  deadline: number,
  stop: AbortSignal,
  retryAfterMs: number | undefined,
): Promise<AcquireResult> {
  const { sql, primitive } = host;
  const { key } = request;
  // Not cut short by `stop`: the core has rejected its caller already (it races every backend
  // call against the abort), and the checkout is bounded by the pool's acquire timeout.
  const connection: MysqlPoolConnection = await sql.checkout('wait', key);
  if (stop.aborted) {
    connection.release();
    throw stop.reason;
  }
  const id = connection.threadId;
  let killing: Promise<void> | undefined;
  const onStop = (): void => {
    if (id !== null)
      killing = kill(sql, 'QUERY', id).catch(
        reported('mysql waitAcquire: KILL QUERY of an aborted wait'),
      );
  };
  stop.addEventListener('abort', onStop, { once: true });
  let took = false;
  let hint = retryAfterMs;
  try {
    for (;;) {
      const remaining = deadline - monotonicNow();
      if (remaining <= 0 || stop.aborted) break;
      took = await primitive.take(connection, key, Math.min(remaining, (hint ?? RECHECK_MS) + 1));
      if (took || stop.aborted) break;
      hint = (await host.refuse(key)).retryAfterMs;
    }
  } catch (error) {
    connection.destroy();
    if (stop.aborted) throw stop.reason;
    throw sql.error('wait', error, key);
  } finally {
    stop.removeEventListener('abort', onStop);
  }
  if (stop.aborted) {
    host.background.track((killing ?? Promise.resolve()).then(() => connection.destroy()));
    throw stop.reason;
  }
  if (!took) {
    connection.release();
    return { acquired: false };
  }
  try {
    return await host.grant(connection, request);
  } catch (error) {
    connection.destroy();
    throw error;
  }
}
