import { LockClosedError } from '@dlock/lock-core';
import {
  type AcquireRequest,
  type AcquireResult,
  type LockBackend,
  type LockState,
  monotonicNow,
  type NativeWaitRequest,
  type OwnerRef,
  type ReleaseResult,
  reported,
  SPECIFICATION_VERSION,
} from '@dlock/lock-core/spi';
import { isConnectionGone } from '../driver-errors.js';
import type { MysqlPoolConnection, OwnedMysqlPool } from '../pool-types.js';
import { BACKEND_NAME, type SqlRunner } from '../sql-runner.js';
import { Background } from './background.js';
import { kill, waitGone } from './kill.js';
import { type Primitive, query } from './primitive.js';
import { refuse } from './refusal.js';
import { waitOnServer } from './server-wait.js';
import { SessionTable } from './session-table.js';
import { StateRows } from './state-rows.js';

/**
 * The connection-bound modes (`get-lock`, `for-update`): a dedicated pool connection holds the
 * server-side lock (`primitive`), so the lock ends with the connection, and the key's state row
 * records owner, hold count, fencing counter, expiry and the holding connection's id.
 *
 * - Exclusion and liveness come from the server lock; the state row only counts while its
 *   `holder` still holds it, so a dead holder reads as free.
 * - TTL: each held key has a timer that, when the row's expiry has passed without an extension,
 *   destroys the connection, and the server releases the lock; a waiter ends the connection of a
 *   holder too stalled to run its timer (see `refuse`).
 * - Owner-checked operations from a backend that does not hold the connection (another process
 *   sharing an explicit owner) work on the row; a release that frees the lock ends the holder's
 *   connection with `KILL CONNECTION`.
 */
export function heldBackend(
  sql: SqlRunner,
  table: string,
  primitive: Primitive,
  owned: OwnedMysqlPool | undefined,
): LockBackend {
  const state = new StateRows(sql, table, primitive);
  const background = new Background();
  const sessions = new SessionTable(primitive, state, background);
  /** Stops every pending server wait when the backend closes. */
  const closer = new AbortController();
  let closing: Promise<void> | undefined;

  const assertOpen = (): void => {
    if (closer.signal.aborted) throw new LockClosedError();
  };
  /** The holding connection failed: the server lock went with it. */
  const holderGone = (error: unknown): boolean =>
    isConnectionGone((error as { cause?: unknown }).cause ?? error);

  /** Records a fresh grant on `connection` and starts its session. */
  const grant = async (
    connection: MysqlPoolConnection,
    request: AcquireRequest,
  ): Promise<AcquireResult> => {
    const id = connection.threadId;
    if (id === null) throw new Error('the connection has no server connection id');
    const fencingToken = await state.grant(connection, id, request);
    sessions.start(request.key, request.owner, connection, id, request.ttlMs);
    return { acquired: true, fencingToken, reentered: false, ttlMs: request.ttlMs };
  };

  /** Same-owner re-entry through the row (this backend's hold or another's). */
  const reenter = async (request: AcquireRequest): Promise<AcquireResult | null> => {
    const fencingToken = await state.reenter(request);
    if (fencingToken === null) return null;
    sessions.get(request.key)?.arm(request.ttlMs, true);
    return { acquired: true, fencingToken, reentered: true, ttlMs: request.ttlMs };
  };

  /** Takes the server lock on a fresh connection without waiting, else re-enters or refuses. */
  const attempt = async (request: AcquireRequest): Promise<AcquireResult> => {
    const connection = await sql.checkout('acquire', request.key);
    let took: boolean;
    try {
      took = await primitive.take(connection, request.key, 0);
    } catch (error) {
      connection.destroy();
      throw sql.error('acquire', error, request.key);
    }
    if (!took) {
      connection.release();
      return (await reenter(request)) ?? (await refuse(sql, state, request.key));
    }
    try {
      return await grant(connection, request);
    } catch (error) {
      connection.destroy();
      throw error;
    }
  };

  /** One no-wait attempt: re-entry or refusal from this backend's own hold, else the server. */
  const tryOnce = async (request: AcquireRequest): Promise<AcquireResult> => {
    assertOpen();
    const local = sessions.get(request.key);
    if (local && !local.dead) {
      // This backend's connection holds the server lock: re-enter, or it is busy.
      if (local.owner !== request.owner) return refuse(sql, state, request.key);
      const again = await reenter(request);
      if (again) return again;
      await sessions.end(local, 'destroy');
    }
    return attempt(request);
  };

  /**
   * Tries once, then waits on the server. The core's line lets one call per key of its client in
   * here at a time, so a key's server wait ties up one pool connection, not one per local waiter,
   * and needs no line of its own. Calls that run concurrently all the same (tryAcquire, a
   * re-entry, another client sharing this backend) are safe: each takes its own pool connection
   * and the server lock decides.
   */
  const waitAcquire = async (request: NativeWaitRequest): Promise<AcquireResult> => {
    const deadline = monotonicNow() + request.timeoutMs;
    const stop = AbortSignal.any([request.signal, closer.signal]);
    // The no-wait attempt also finds a re-entry. It is short, so an abort does not cut it off,
    // but a grant that raced one is handed back.
    const first = await tryOnce(request);
    if (stop.aborted) {
      if (first.acquired) {
        await backend
          .release(request)
          .catch(
            reported(`${BACKEND_NAME} waitAcquire: hand back a grant after abort`, request.key),
          );
      }
      throw stop.reason;
    }
    if (first.acquired) return first;
    const host = {
      sql,
      primitive,
      background,
      grant,
      refuse: (key: string) => refuse(sql, state, key),
    };
    return await waitOnServer(host, request, deadline, stop, first.retryAfterMs);
  };

  const backend: LockBackend = {
    specificationVersion: SPECIFICATION_VERSION,
    name: BACKEND_NAME,
    capabilities: {
      watch: false,
      nativeWait: true,
      ttlGranularityMs: 1,
      batchExtend: false,
    },

    async tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
      assertOpen();
      return tryOnce(request);
    },

    async waitAcquire(request: NativeWaitRequest): Promise<AcquireResult> {
      assertOpen();
      const waiting = waitAcquire(request);
      // A closing backend with a pool of its own waits for every wait to clean up.
      background.track(waiting);
      return waiting;
    },

    async extend(request: AcquireRequest): Promise<boolean> {
      assertOpen();
      const local = sessions.get(request.key);
      // Held through another backend's connection (a shared owner), or not at all.
      if (local?.owner !== request.owner) return state.extend(request);
      if (local.dead) return false;
      let ok: boolean;
      try {
        const renewal = state.extend(request, local.connection);
        // A for-update holder idles inside its transaction: touch it, so the server's idle
        // timeout cannot end it and a lost connection shows up now. Both awaited together: a
        // failed touch must not leave the renewal's own failure unhandled.
        [ok] = await Promise.all([
          renewal,
          primitive.autocommit ? undefined : query(local.connection, 'SELECT 1'),
        ]);
      } catch (error) {
        if (!local.dead && !holderGone(error)) throw error;
        await sessions.end(local, 'destroy');
        return false;
      }
      if (ok) local.arm(request.ttlMs);
      return ok;
    },

    async release(ref: OwnerRef): Promise<ReleaseResult> {
      assertOpen();
      const local = sessions.get(ref.key);
      if (local && local.owner === ref.owner && !local.dead) {
        let result: ReleaseResult;
        try {
          result = await state.release(ref, local.connectionId, local.connection);
        } catch (error) {
          if (!local.dead && !holderGone(error)) throw error;
          await sessions.end(local, 'destroy');
          return 'not-held';
        }
        if (result !== 'decremented')
          await sessions.end(local, result === 'released' ? 'give' : 'destroy');
        return result;
      }
      // The holding connection belongs to another backend (a shared explicit owner).
      const holder = await state.holderOf(ref);
      if (holder === undefined) return 'not-held';
      const result = await state.release(ref, holder);
      if (result === 'released') {
        // Only the holder's connection can give the server lock up: end it, and wait until the
        // server has, so that the key is free when this call returns.
        await kill(sql, 'CONNECTION', holder);
        await waitGone(sql, holder);
      }
      return result;
    },

    async inspect(key: string): Promise<LockState | null> {
      assertOpen();
      return state.inspect(key);
    },

    async forceRelease(key: string): Promise<boolean> {
      assertOpen();
      // The holder whose connection holds the server lock, live lease or expired.
      const current = await state.current(key);
      if (!current) return false;
      await state.clear(key, current.holder);
      const local = sessions.get(key);
      if (local?.connectionId === current.holder) {
        await sessions.end(local, 'destroy');
      } else {
        await kill(sql, 'CONNECTION', current.holder);
      }
      // Return once the server has let the lock go.
      await waitGone(sql, current.holder);
      return current.remainingUs > 0;
    },

    close(): Promise<void> {
      closing ??= (async () => {
        // Ends pending waits: each kills its server-side wait and drops its connection.
        closer.abort(new LockClosedError());
        // Held locks the client did not release (it releases what it knows about first): end
        // their connections, so the server frees them.
        await sessions.endAll();
        // The kills go through the pool: with a pool of our own, let them finish before ending
        // it. A user's pool stays open, so they complete in the background within a round trip
        // and close() does not wait on the network.
        if (owned) {
          await background.drain();
          await owned.end();
        }
      })();
      return closing;
    },
  };
  return backend;
}
