import { toBackendError } from './errors.js';
import { quoteTable } from './identifier.js';
import {
  checkPool,
  exactBigInt,
  firstRowValue,
  type MysqlConnectionLike,
  type MysqlPoolLike,
} from './mysql-pool.js';
import type { SegmentGenerator } from './segment-buffer.js';
import { type SegmentOptions, segmentGenerator } from './segment-generator.js';
import { checkNonEmptyString } from './validate.js';

export interface MysqlSegmentOptions extends SegmentOptions {
  /** A mysql2/promise pool; left open by `close()`. */
  pool: MysqlPoolLike;
  /** The business key: one row (one id sequence) in the allocation table. */
  bizTag: string;
  /**
   * Allocation table, Leaf's `leaf_alloc` schema (see `ensureTable()`).
   * @default 'leaf_alloc'
   */
  table?: string;
}

export interface MysqlSegment extends SegmentGenerator {
  /** `CREATE TABLE IF NOT EXISTS` for the allocation table (DDL: run it once, at deploy time). */
  ensureTable(): Promise<void>;
}

/**
 * Meituan Leaf's segment mode over MySQL/MariaDB: per segment one transaction
 * `UPDATE … SET max_id = max_id + step WHERE biz_tag = ?` then reads `max_id` back; the row lock
 * serialises processes, so segments never overlap. Ids are then handed out from memory with the
 * next segment prefetched at 10% use. A missing `bizTag` row is created (max_id 0) on first use.
 * Durable as the database: an id is only handed out after its segment's commit.
 */
export function mysqlSegment(options: MysqlSegmentOptions): MysqlSegment {
  checkPool(options?.pool);
  const { pool } = options;
  const bizTag = checkNonEmptyString('bizTag', options.bizTag, 128);
  const table = quoteTable(options.table ?? 'leaf_alloc');
  const name = `mysqlSegment(${bizTag})`;

  async function reserve(conn: MysqlConnectionLike, step: number): Promise<bigint> {
    await conn.beginTransaction();
    try {
      const update = `UPDATE ${table} SET max_id = max_id + ?, step = ? WHERE biz_tag = ?`;
      const [result] = await conn.query(update, [step, step, bizTag]);
      if ((result as { affectedRows?: number } | null)?.affectedRows === 0) {
        // First use of this bizTag. INSERT IGNORE: another process may be creating it too.
        await conn.query(`INSERT IGNORE INTO ${table} (biz_tag, max_id, step) VALUES (?, 0, ?)`, [
          bizTag,
          step,
        ]);
        await conn.query(update, [step, step, bizTag]);
      }
      const [rows] = await conn.query(
        `SELECT CAST(max_id AS CHAR) AS max_id FROM ${table} WHERE biz_tag = ?`,
        [bizTag],
      );
      const max = exactBigInt(firstRowValue(rows, 'max_id'), 'max_id');
      await conn.commit();
      return max;
    } catch (error) {
      await conn.rollback().catch(() => {});
      throw error;
    }
  }

  const generator = segmentGenerator(
    async (step) => {
      const conn = await pool.getConnection();
      try {
        return await reserve(conn, step);
      } finally {
        conn.release();
      }
    },
    name,
    options,
    async (expectedMax, newMax) => {
      const conn = await pool.getConnection();
      try {
        // CAST: a string compared with a BIGINT is compared as a double, inexact above 2^53.
        const [result] = await conn.query(
          `UPDATE ${table} SET max_id = CAST(? AS SIGNED) WHERE biz_tag = ? AND max_id = CAST(? AS SIGNED)`,
          [newMax.toString(), bizTag, expectedMax.toString()],
        );
        return (result as { affectedRows?: number } | null)?.affectedRows === 1;
      } finally {
        conn.release();
      }
    },
  );

  return Object.assign(generator, {
    async ensureTable(): Promise<void> {
      const conn = await pool.getConnection();
      try {
        await conn.query(
          `CREATE TABLE IF NOT EXISTS ${table} (
            biz_tag VARCHAR(128) NOT NULL,
            max_id BIGINT NOT NULL DEFAULT 0,
            step INT NOT NULL,
            description VARCHAR(256) NOT NULL DEFAULT '',
            update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
            PRIMARY KEY (biz_tag)
          ) ENGINE=InnoDB`,
        );
      } catch (error) {
        throw toBackendError(`${name}.ensureTable`, error);
      } finally {
        conn.release();
      }
    },
  });
}
