import type { AcquireRequest, LockState, OwnerRef, ReleaseResult } from '@dlock/lock-core';
import { keyBytes, ownerBytes } from '../keys.js';
import type { MysqlPoolConnection, WriteResult } from '../pool-types.js';
import { micros } from '../server-time.js';
import { extendSql } from '../sql-extend.js';
import { clearHolderSql } from '../sql-force-release.js';
import { decodeInspect, type InspectRow, inspectSql } from '../sql-inspect.js';
import { decodeRelease, releaseSql } from '../sql-release.js';
import { insertIdOf, type SqlRunner } from '../sql-runner.js';
import { grantSql, holderSql, leaseOfSql, reenterSql, remainingSql } from './held-statements.js';
import type { Primitive } from './primitive.js';

type UsRow = { us: number | string | null };

/** The current holder of a key as its state row records it. */
export interface HolderLease {
  readonly holder: number;
  /** Remaining lease in microseconds; zero or less once it ran out. */
  readonly remainingUs: number;
}

/**
 * The key's state row in the connection-bound modes: owner, hold count, fencing counter, expiry
 * and holding connection, read and written beside the server lock. Every statement that decides
 * on a hold also checks the primitive's liveness condition, so a row left by a dead connection
 * reads as free.
 */
export class StateRows {
  // Liveness conditions differ per key only in their bound values: statements are built once.
  readonly #statements;

  constructor(
    private readonly sql: SqlRunner,
    table: string,
    private readonly primitive: Primitive,
  ) {
    const template = primitive.liveness('');
    this.#statements = {
      grant: grantSql(table),
      reenter: reenterSql(table, template),
      extend: extendSql(table, template),
      release: releaseSql(table, { holder: true, liveness: template }),
      inspect: inspectSql(table, template),
      holder: holderSql(table, template),
      remaining: remainingSql(table, template),
      leaseOf: leaseOfSql(table),
      clear: clearHolderSql(table),
    };
  }

  /** Records a grant the server lock just made on `connection`; resolves the fencing token. */
  async grant(
    connection: MysqlPoolConnection,
    connectionId: number,
    { key, owner, ttlMs }: AcquireRequest,
  ): Promise<bigint> {
    const o = ownerBytes(owner);
    const values = [keyBytes(key), o, micros(ttlMs), connectionId, o, micros(ttlMs), connectionId];
    return insertIdOf(
      await this.#writeOn(connection, 'acquire', this.#statements.grant, values, key),
    );
  }

  /** Same-owner re-entry, wherever the lock is held; resolves the token, or null if not held. */
  async reenter({ key, owner, ttlMs }: AcquireRequest): Promise<bigint | null> {
    const values = [micros(ttlMs), keyBytes(key), ownerBytes(owner), ...this.#live(key)];
    const token = insertIdOf(
      await this.sql.write('acquire', this.#statements.reenter, values, key),
    );
    return token === 0n ? null : token;
  }

  /** Owner-checked renewal; on the holding connection when given (see `#writeOn`). */
  async extend(
    { key, owner, ttlMs }: AcquireRequest,
    connection?: MysqlPoolConnection,
  ): Promise<boolean> {
    const values = [micros(ttlMs), keyBytes(key), ownerBytes(owner), ...this.#live(key)];
    const result = await this.#writeOn(connection, 'extend', this.#statements.extend, values, key);
    return insertIdOf(result) > 0n;
  }

  /** Owner-checked release of one hold granted to connection `holder`. */
  async release(
    { key, owner }: OwnerRef,
    holder: number,
    connection?: MysqlPoolConnection,
  ): Promise<ReleaseResult> {
    const values = [keyBytes(key), ownerBytes(owner), holder, ...this.#live(key)];
    return decodeRelease(
      await this.#writeOn(connection, 'release', this.#statements.release, values, key),
    );
  }

  /** The connection holding `owner`'s live lock, if any. */
  async holderOf({ key, owner }: OwnerRef): Promise<number | undefined> {
    const rows = await this.sql.rows<{ holder: number | string }>(
      'release',
      this.#statements.holder,
      [keyBytes(key), ownerBytes(owner), ...this.#live(key)],
      key,
    );
    return rows[0] === undefined ? undefined : Number(rows[0].holder);
  }

  /** The holder whose connection still holds the server lock, with its lease, expired or not. */
  async current(key: string): Promise<HolderLease | undefined> {
    const rows = await this.sql.rows<UsRow & { holder: number | string }>(
      'acquire',
      this.#statements.remaining,
      [keyBytes(key), ...this.#live(key)],
      key,
    );
    const row = rows[0];
    if (!row || row.us === null) return undefined;
    return { holder: Number(row.holder), remainingUs: Number(row.us) };
  }

  /** Remaining lease recorded for connection `holder` (undefined when its hold ended). */
  async leaseOf(key: string, holder: number): Promise<number | undefined> {
    const rows = await this.sql.rows<UsRow>(
      'expire',
      this.#statements.leaseOf,
      [keyBytes(key), holder],
      key,
    );
    const us = rows[0]?.us;
    return us === undefined || us === null ? undefined : Number(us);
  }

  /** Clears the row of the hold granted to connection `holder`, whoever the owner. */
  async clear(key: string, holder: number): Promise<void> {
    await this.sql.write('forceRelease', this.#statements.clear, [keyBytes(key), holder], key);
  }

  async inspect(key: string): Promise<LockState | null> {
    const rows = await this.sql.rows<InspectRow>(
      'inspect',
      this.#statements.inspect,
      [keyBytes(key), ...this.#live(key)],
      key,
    );
    return decodeInspect(key, rows);
  }

  #live(key: string): readonly unknown[] {
    return this.primitive.liveness(key).values;
  }

  /**
   * A write for the key held on `connection`: on that connection when it is in autocommit
   * (get-lock: no second connection needed, and every renewal doubles as its keep-alive and loss
   * check), else, or without a connection, on any pool connection.
   */
  #writeOn(
    connection: MysqlPoolConnection | undefined,
    operation: string,
    statement: string,
    values: unknown[],
    key: string,
  ): Promise<WriteResult> {
    return connection && this.primitive.autocommit
      ? this.sql.on<WriteResult>(connection, operation, statement, values, key)
      : this.sql.write(operation, statement, values, key);
  }
}
