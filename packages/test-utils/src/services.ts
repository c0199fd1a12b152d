/**
 * Probes and gates for the machine's shared Redis and MariaDB/MySQL (scripts/services.sh). The
 * drivers are loaded only when a probe runs, so packages that never probe do not pay for them.
 */
import { probeTcp } from './net.js';
import { requireService, type ServiceStatus } from './service-gate.js';

/** The machine's shared Redis as a URL; override with DLOCK_REDIS_URL. */
export const SHARED_REDIS_URL = process.env.DLOCK_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The machine's shared MariaDB (root, no password, database `test`); override with DLOCK_MYSQL_URL. */
export const SHARED_MYSQL_URL = process.env.DLOCK_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** Resolves once a Redis at `url` answers PING; rejects (within about a second) otherwise. */
export async function probeRedis(url: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  client.on('error', (error: unknown) => {
    lastError = error; // reported below, instead of ioredis' "Connection is closed."
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw lastError ?? error;
  } finally {
    client.disconnect();
  }
}

/** Resolves once a MariaDB/MySQL at `url` accepts a connection and runs `SELECT 1`. */
export async function probeMysql(url: string): Promise<void> {
  const parsed = new URL(url);
  await probeTcp(parsed.hostname, Number(parsed.port || 3306));
  const { createConnection } = await import('mysql2/promise');
  const conn = await createConnection({ uri: url, connectTimeout: 1000 });
  try {
    await conn.query('SELECT 1');
  } finally {
    await conn.end();
  }
}

/** Skips (locally) or fails (in CI) when no Redis answers at `url`. */
export function requireRedis(url: string = SHARED_REDIS_URL): Promise<ServiceStatus> {
  return requireService(`Redis at ${url}`, () => probeRedis(url));
}

/** Skips (locally) or fails (in CI) when no MariaDB/MySQL answers at `url`. */
export function requireMysql(url: string = SHARED_MYSQL_URL): Promise<ServiceStatus> {
  return requireService(`MariaDB/MySQL at ${new URL(url).host}`, () => probeMysql(url));
}
