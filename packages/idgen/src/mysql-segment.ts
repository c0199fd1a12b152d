import { channel } from 'node:diagnostics_channel';
import { toBackendError } from './errors.js';
import { quoteTable } from './identifier.js';
import {
  checkPool,
  exactBigInt,
  firstRowValue,
  isRetryable,
  type MysqlConnectionLike,
  type MysqlPoolLike,
} from './mysql-pool.js';
import type { SegmentGenerator } from './segment-buffer.js';
import { type SegmentOptions, segmentGenerator } from './segment-generator.js';
import { checkNonEmptyString } from './validate.js';

/** lock-core's channel for best-effort failures (idgen does not need lock-core to publish). */
const errors = channel('dlock:error');

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
const MAX_ATTEMPTS = 20;

export function mysqlSegment(options: MysqlSegmentOptions): MysqlSegment {
  checkPool(options?.pool);
  const { pool } = options;
  const bizTag = checkNonEmptyString('bizTag', options.bizTag, 128);
  const table = quoteTable(options.table ?? 'leaf_alloc');
  const name = `mysqlSegment(${bizTag})`;

  /**
   * One transaction per segment. A missing bizTag row is created outside it (autocommit INSERT
   * IGNORE), then the transaction runs again: inserting inside it, after an UPDATE that matched
   * nothing and so took a gap lock, deadlocks against other processes doing the same.
   */
  async function reserve(conn: MysqlConnectionLike, step: number): Promise<bigint> {
    const update = `UPDATE ${table} SET max_id = max_id + ?, step = ? WHERE biz_tag = ?`;
    for (let attempt = 1; ; attempt++) {
      let missing = false;
      await conn.beginTransaction();
      try {
        const [result] = await conn.query(update, [step, step, bizTag]);
        missing = (result as { affectedRows?: number } | null)?.affectedRows === 0;
        if (!missing) {
          const [rows] = await conn.query(
            `SELECT CAST(max_id AS CHAR) AS max_id FROM ${table} WHERE biz_tag = ?`,
            [bizTag],
          );
          const max = exactBigInt(firstRowValue(rows, 'max_id'), 'max_id');
          await conn.commit();
          return max;
        }
        await conn.rollback();
      } catch (error) {
        // The attempt's error wins; a failed rollback (the connection is released either way) goes
        // to dlock:error rather than nowhere.
        await conn.rollback().catch((rollbackError: unknown) => {
          if (errors.hasSubscribers) {
            errors.publish({ where: 'idgen segment: rollback', key: bizTag, error: rollbackError });
          }
        });
        if (attempt >= MAX_ATTEMPTS || !isRetryable(error)) throw error;
        continue;
      }
      await conn.query(`INSERT IGNORE INTO ${table} (biz_tag, max_id, step) VALUES (?, 0, ?)`, [
        bizTag,
        step,
      ]);
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
