import { randomBytes } from 'node:crypto';
import { LockClosedError } from '@dlock/lock-core';
import {
  type AcquireResult,
  type ExtendResult,
  type LeaseAcquireRequest,
  type LeaseRef,
  LockLimitError,
  LockUpgradeError,
  type ReleaseResult,
  type SharedBackend,
  type SharedState,
} from '@dlock/lock-core/spi';
import { keyBytes, ownerBytes } from '../keys.js';
import { micros } from '../server-time.js';
import { decodeRelease } from '../sql-release.js';
import { insertIdOf, type SqlRunner } from '../sql-runner.js';
import { familyOf, type LeaseKey, pkValues, type SharedFamily } from './lease-kind.js';
import { decide } from './shared-decision.js';
import type { SharedTables } from './shared-tables.js';
import { inTransaction, StaleRead } from './shared-transaction.js';
import { deleteExpiredSql } from './sql-shared-cleanup.js';
import { extendManySql, renewedSql, sharedExtendSql } from './sql-shared-extend.js';
import { forceReleaseStatements } from './sql-shared-force-release.js';
import { grantLeaseSql, grantLeaseValues } from './sql-shared-grant.js';
import { decodeSharedInspect, sharedInspectSql } from './sql-shared-inspect.js';
import { lockKeySql, setLimitSql } from './sql-shared-key.js';
import { enqueueSql, removeWaiterSql } from './sql-shared-queue.js';
import { reenterSql } from './sql-shared-reenter.js';
import { sharedReleaseSql } from './sql-shared-release.js';
import { decodeState, type StateRow, stateSql, stateValues } from './sql-shared-state.js';

/** Leases per statement of a batched renewal (keeps statements and their range lists small). */
const EXTEND_BATCH = 100;

/**
 * Semaphores and read-write locks on MySQL/MariaDB, in every mode: rows with expiries on the
 * server's clock (GET_LOCK is exclusive only and `for-update` has no TTL, so neither can give a
 * lease per holder). An acquire is one short transaction that locks the key's row first (so
 * acquirers of one key run one at a time), reads the key's state in one statement, decides
 * (`decide`) and writes; extend, release and abandon are one statement each, on the lease's or
 * entry's own row. Nothing pins a connection while held.
 *
 * `isClosed` is the owning backend's state: every operation refuses with `LockClosedError` once
 * it was closed.
 */
export function sharedBackend(
  sql: SqlRunner,
  tables: SharedTables,
  isClosed: () => boolean,
): SharedBackend {
  const statements = {
    lockKey: lockKeySql(tables.keys),
    setLimit: setLimitSql(tables.keys),
    state: stateSql(tables),
    grant: grantLeaseSql(tables.leases),
    reenter: reenterSql(tables.leases),
    enqueue: enqueueSql(tables.waiters),
    removeWaiter: removeWaiterSql(tables.waiters),
    release: sharedReleaseSql(tables.leases),
    extend: sharedExtendSql(tables.leases),
    inspect: sharedInspectSql(tables),
    force: forceReleaseStatements(tables),
  };
  const open = (): void => {
    if (isClosed()) throw new LockClosedError('The mysql backend is closed');
  };
  const leaseKey = ({ key, owner, kind }: LeaseRef): LeaseKey => ({
    name: keyBytes(key),
    family: familyOf(kind),
    owner: ownerBytes(owner),
    kind,
  });

  const acquire = (request: LeaseAcquireRequest): Promise<AcquireResult> => {
    const lease = leaseKey(request);
    const ttlUs = micros(request.ttlMs);
    return inTransaction(sql, 'sharedAcquire', request.key, async (tx) => {
      const current = insertIdOf(await tx.write(statements.lockKey, [lease.name, lease.family]));
      const snapshot = decodeState(await tx.rows<StateRow>(statements.state, stateValues(lease)));
      const decision = decide(request, snapshot, current);
      if (decision.type === 'limit') {
        throw new LockLimitError(request.key, decision.stored, request.limit);
      }
      if (decision.type === 'upgrade') throw new LockUpgradeError(request.key);
      for (const [table, rows] of [
        [tables.leases, snapshot.expiredLeases],
        [tables.waiters, snapshot.expiredWaiters],
      ] as const) {
        if (rows.length === 0) continue;
        const values = [lease.name, lease.family, ...rows.flatMap((row) => [row.owner, row.kind])];
        await tx.write(deleteExpiredSql(table, rows.length), values);
      }
      if (decision.limitUpdate !== undefined) {
        await tx.write(statements.setLimit, [decision.limitUpdate, lease.name, lease.family]);
      }
      switch (decision.type) {
        case 'reenter': {
          const before = insertIdOf(
            await tx.write(statements.reenter, [ttlUs, ...pkValues(lease)]),
          );
          // It ran out between the read and now: decide again on a fresh read.
          if (before === 0n) throw new StaleRead();
          return {
            acquired: true,
            fencingToken: decision.token,
            reentered: true,
            ttlMs: request.ttlMs,
          };
        }
        case 'grant': {
          const permits = request.kind === 'semaphore' ? request.permits : 1;
          await tx.write(statements.grant, grantLeaseValues(lease, permits, decision.token, ttlUs));
          if (decision.removeWaiter) await tx.write(statements.removeWaiter, pkValues(lease));
          return {
            acquired: true,
            fencingToken: decision.token,
            reentered: false,
            ttlMs: request.ttlMs,
          };
        }
        case 'refuse': {
          if (request.queue) {
            const seq = current.toString();
            await tx.write(statements.enqueue, [...pkValues(lease), seq, ttlUs, seq, ttlUs]);
          }
          return { acquired: false, retryAfterMs: decision.retryAfterMs };
        }
      }
    });
  };

  const extendMany = async (
    requests: readonly (LeaseRef & { readonly ttlMs: number })[],
  ): Promise<ExtendResult[]> => {
    open();
    const results: ExtendResult[] = [];
    for (let start = 0; start < requests.length; start += EXTEND_BATCH) {
      const batch = requests.slice(start, start + EXTEND_BATCH);
      const leases = batch.map(leaseKey);
      const stamp = randomBytes(16);
      const keys = leases.flatMap(pkValues);
      await sql.write('sharedExtendMany', extendManySql(tables.leases, batch.length), [
        ...leases.flatMap((lease, i) => [...pkValues(lease), micros(batch[i]!.ttlMs)]),
        stamp,
        ...keys,
      ]);
      const renewed = await sql.rows<{ name: Buffer; family: string; owner: Buffer; kind: string }>(
        'sharedExtendMany',
        renewedSql(tables.leases, batch.length),
        [stamp, ...keys],
      );
      const id = (name: Buffer, family: string, owner: Buffer, kind: string) =>
        `${name.toString('hex')}|${family}|${owner.toString('hex')}|${kind}`;
      const done = new Set(renewed.map((row) => id(row.name, row.family, row.owner, row.kind)));
      for (const lease of leases) {
        results.push(done.has(id(lease.name, lease.family, lease.owner, lease.kind)));
      }
    }
    return results;
  };

  return {
    capabilities: {
      maxSemaphoreLimit: Number.POSITIVE_INFINITY,
      readWrite: true,
      watch: false,
      nativeWait: false,
      batchExtend: true,
    },

    async tryAcquire(request: LeaseAcquireRequest): Promise<AcquireResult> {
      open();
      return acquire(request);
    },

    async extend(request: LeaseRef & { readonly ttlMs: number }): Promise<ExtendResult> {
      open();
      const values = [micros(request.ttlMs), ...pkValues(leaseKey(request))];
      return (
        insertIdOf(await sql.write('sharedExtend', statements.extend, values, request.key)) > 0n
      );
    },

    extendMany,

    async release(request: LeaseRef): Promise<ReleaseResult> {
      open();
      const values = pkValues(leaseKey(request));
      return decodeRelease(
        await sql.write('sharedRelease', statements.release, values, request.key),
      );
    },

    async abandon(request: LeaseRef): Promise<boolean> {
      open();
      const values = pkValues(leaseKey(request));
      const result = await sql.write('sharedAbandon', statements.removeWaiter, values, request.key);
      return result.affectedRows > 0;
    },

    async inspect(family: SharedFamily, key: string): Promise<SharedState | null> {
      open();
      const name = keyBytes(key);
      const values = [name, family, name, family, name, family];
      const rows = await sql.rows<Parameters<typeof decodeSharedInspect>[2][number]>(
        'sharedInspect',
        statements.inspect,
        values,
        key,
      );
      return decodeSharedInspect(family, key, rows);
    },

    async forceRelease(family: SharedFamily, key: string): Promise<boolean> {
      open();
      const name = keyBytes(key);
      return inTransaction(sql, 'sharedForceRelease', key, async (tx) => {
        await tx.rows(statements.force.lock, [name, family]);
        const [row] = await tx.rows<{ live: number | string }>(statements.force.live, [
          name,
          family,
          name,
          family,
        ]);
        await tx.write(statements.force.leases, [name, family]);
        await tx.write(statements.force.waiters, [name, family]);
        return Number(row?.live ?? 0) > 0;
      });
    },
  };
}
