import { SHARED_MYSQL_URL, uniqueName } from '@dlock/test-utils';
import { createPool, type Pool } from 'mysql2/promise';
import { ensureBarrierSchema } from '../../src/index.js';

/** A pool on the machine's shared MariaDB with a barrier table and a stock table of this run's own. */
export async function participantDb(label: string): Promise<{
  pool: Pool;
  barrierTable: string;
  stockTable: string;
  stock(): Promise<{ available: number; reserved: number; sold: number }>;
  dispose(): Promise<void>;
}> {
  const pool = createPool({ uri: SHARED_MYSQL_URL, connectionLimit: 8, maxIdle: 2 });
  const barrierTable = uniqueName(`dlock_txb_${label}_`);
  const stockTable = uniqueName(`dlock_txs_${label}_`);
  await ensureBarrierSchema(pool, { table: barrierTable });
  await pool.query(
    `CREATE TABLE \`${stockTable}\` (id INT PRIMARY KEY, available INT NOT NULL, reserved INT NOT NULL, sold INT NOT NULL)`,
  );
  await pool.query(`INSERT INTO \`${stockTable}\` VALUES (1, 100, 0, 0)`);
  return {
    pool,
    barrierTable,
    stockTable,
    async stock() {
      const [rows] = await pool.query(`SELECT available, reserved, sold FROM \`${stockTable}\``);
      return (rows as { available: number; reserved: number; sold: number }[])[0]!;
    },
    async dispose() {
      await pool.query(`DROP TABLE IF EXISTS \`${barrierTable}\`, \`${stockTable}\``);
      await pool.end();
    },
  };
}
