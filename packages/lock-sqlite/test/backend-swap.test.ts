import { join } from 'node:path';
import type { LockBackend } from '@dlock/lock-core';
import { ensureSchema, mysqlBackend } from '@dlock/lock-mysql';
import { redisBackend } from '@dlock/lock-redis';
import {
  makeTempDir,
  requireMysql,
  requireSharedRedis,
  SHARED_MYSQL_URL,
  SHARED_REDIS,
  uniqueName,
  uniquePrefix,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { createPool } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';

const redis = await requireSharedRedis();
const mysql = await requireMysql();

/**
 * Moving a key from one backend to another (a changed connection URL) must not send its tokens
 * back: every backend floors fresh tokens at its server's time in µs (here all on one host's
 * clock), so the first token on the new backend is above the last one on the old.
 */
describe.skipIf(!redis.available || !mysql.available)(
  'fencing tokens across a swap of backends on one key (Redis -> MySQL -> SQLite -> Redis)',
  () => {
    const client = new Redis({ ...SHARED_REDIS });
    const pool = createPool({ uri: SHARED_MYSQL_URL, connectionLimit: 2 });
    const table = uniqueName('dlock_test_swap_');
    const prefix = uniquePrefix('swap');
    let dir: Awaited<ReturnType<typeof makeTempDir>> | undefined;

    afterAll(async () => {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.unlink(...keys);
      await client.quit();
      await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
      await pool.end();
      await dir?.remove();
    });

    async function grants(backend: LockBackend, key: string, count: number): Promise<bigint[]> {
      const tokens: bigint[] = [];
      try {
        for (let i = 0; i < count; i++) {
          const got = await backend.tryAcquire({ key, owner: `o${i}`, ttlMs: 5_000 });
          if (!got.acquired) throw new Error(`${backend.name} did not grant ${key}`);
          tokens.push(got.fencingToken);
          expect(await backend.release({ key, owner: `o${i}` })).toBe('released');
        }
      } finally {
        await backend.close();
      }
      return tokens;
    }

    it('every backend starts above the tokens of the one before', async () => {
      dir = await makeTempDir('dlock-swap-');
      await ensureSchema(pool, { table });
      const key = 'orders:42';
      const tokens = [
        ...(await grants(redisBackend({ client, prefix }), key, 3)),
        ...(await grants(mysqlBackend({ pool, mode: 'row', table }), key, 3)),
        ...(await grants(sqliteBackend({ path: join(dir.path, 'swap.db') }), key, 3)),
        ...(await grants(mysqlBackend({ pool, mode: 'get-lock', table }), key, 2)),
        // Back to Redis, whose counter for the key is still there from the first round.
        ...(await grants(redisBackend({ client, prefix }), key, 2)),
      ];
      for (let i = 1; i < tokens.length; i++) {
        expect(tokens[i]!, `grant ${i + 1} of ${tokens.join(', ')}`).toBeGreaterThan(
          tokens[i - 1]!,
        );
      }
    });
  },
);
