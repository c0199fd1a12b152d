/**
 * Service gates for the integration tests (through @dlock/test-utils' requireService: outside CI
 * a missing service skips its tests with a printed reason; in CI it fails the file).
 */
import { randomBytes } from 'node:crypto';
import { requireService } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';

export const REDIS_URL = process.env.DLOCK_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const MYSQL_URL = process.env.DLOCK_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export async function redisAvailable(): Promise<boolean> {
  const status = await requireService(`Redis at ${REDIS_URL}`, async () => {
    const client = new Redis(REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 1000,
      retryStrategy: () => null,
    });
    try {
      await client.connect();
      await client.ping();
    } finally {
      client.disconnect();
    }
  });
  return status.available;
}

export async function mysqlAvailable(): Promise<boolean> {
  const status = await requireService(`MySQL/MariaDB at ${MYSQL_URL}`, async () => {
    const conn = await mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 1000 });
    try {
      await conn.query('SELECT 1');
    } finally {
      await conn.end();
    }
  });
  return status.available;
}

/** A unique name for this run's keys and tables. */
export function testName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}
