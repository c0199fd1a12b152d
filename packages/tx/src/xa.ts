import { randomBytes } from 'node:crypto';
import type { MysqlConnectionLike, MysqlPoolLike } from './pool-types.js';

/**
 * XA statements and ids. Every branch this package starts has formatID {@link FORMAT_ID} and a
 * gtrid `<prefix>.<start time, base 36>.<random>`, so `XA RECOVER` tells our branches from anyone
 * else's, and the start time gives an orphan's age without a log record (presumed abort).
 */

/** 'dlk' in ASCII: the formatID of every branch this package starts. */
export const FORMAT_ID = 0x646c6b;

export interface Xid {
  readonly gtrid: string;
  readonly bqual: string;
}

export function newGid(prefix: string, now = Date.now()): string {
  return `${prefix}.${now.toString(36)}.${randomBytes(8).toString('hex')}`;
}

/** The start time encoded in a gid of ours, or NaN. */
export function gidTime(gid: string, prefix: string): number {
  const parts = gid.split('.');
  if (parts.length !== 3 || parts[0] !== prefix) return Number.NaN;
  return Number.parseInt(parts[1]!, 36);
}

interface DriverError {
  readonly errno?: number;
  readonly code?: string;
  readonly fatal?: boolean;
}

/** XAER_NOTA: the server has no such branch (done already, or attached to another session). */
export function isUnknownXid(error: unknown): boolean {
  return (error as DriverError)?.errno === 1397;
}

/** XA_RBROLLBACK and friends (1402): the server rolled the branch back itself. */
export function isRolledBackXid(error: unknown): boolean {
  return (error as DriverError)?.errno === 1402;
}

export async function xa(
  conn: MysqlConnectionLike,
  verb: 'START' | 'END' | 'PREPARE' | 'COMMIT' | 'ROLLBACK',
  xid: Xid,
): Promise<void> {
  // mysql2 substitutes the placeholders client-side, escaped: XA takes no server-side parameters.
  await conn.query(`XA ${verb} ?, ?, ?`, [xid.gtrid, xid.bqual, FORMAT_ID]);
}

interface RecoverRow {
  formatID: number | string;
  gtrid_length: number | string;
  bqual_length: number | string;
  data: Buffer | string;
}

/** The prepared branches of ours (`formatID` and gid prefix) that the server lists. */
export async function recoverXids(pool: MysqlPoolLike, prefix: string): Promise<Xid[]> {
  const conn = await pool.getConnection();
  try {
    const [rows] = await conn.query('XA RECOVER');
    conn.release();
    const xids: Xid[] = [];
    for (const row of rows as RecoverRow[]) {
      if (Number(row.formatID) !== FORMAT_ID) continue;
      const data = Buffer.isBuffer(row.data) ? row.data : Buffer.from(String(row.data), 'latin1');
      const g = Number(row.gtrid_length);
      const gtrid = data.subarray(0, g).toString('utf8');
      if (!gtrid.startsWith(`${prefix}.`)) continue;
      xids.push({ gtrid, bqual: data.subarray(g, g + Number(row.bqual_length)).toString('utf8') });
    }
    return xids;
  } catch (error) {
    conn.destroy();
    throw error;
  }
}

/**
 * Finishes one branch from a fresh connection, idempotently. XAER_NOTA means "done" only when
 * `XA RECOVER` no longer lists the branch: on MariaDB a branch still attached to the live session
 * that prepared it also answers XAER_NOTA to everyone else, and that is not done. Resolves
 * `'done'`, `'rolled-back'` (a commit the server answered with XA_RBROLLBACK: a read-only branch
 * on MariaDB) or `'busy'` (attached elsewhere: try later).
 */
export async function finishBranch(
  pool: MysqlPoolLike,
  verb: 'COMMIT' | 'ROLLBACK',
  xid: Xid,
  prefix: string,
): Promise<'done' | 'rolled-back' | 'busy'> {
  const conn = await pool.getConnection();
  try {
    await xa(conn, verb, xid);
    conn.release();
    return 'done';
  } catch (error) {
    if (isRolledBackXid(error)) {
      conn.release();
      return verb === 'COMMIT' ? 'rolled-back' : 'done';
    }
    conn.destroy();
    if (!isUnknownXid(error)) throw error;
  }
  const listed = await recoverXids(pool, prefix);
  return listed.some((x) => x.gtrid === xid.gtrid && x.bqual === xid.bqual) ? 'busy' : 'done';
}
