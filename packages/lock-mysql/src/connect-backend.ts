import { LockArgumentError } from '@dlock/lock-core';
import {
  type LockBackend,
  reported,
  TLS_URL_PARAMS,
  tlsSettings,
  urlSettings,
} from '@dlock/lock-core/spi';
import type { PoolOptions } from 'mysql2/promise';
import { createMysqlBackend } from './mysql-backend.js';
import type { MysqlBackendOptions } from './options.js';
import type { OwnedMysqlPool } from './pool-types.js';

const STRINGS = ['mode', 'table', 'lockNamePrefix'] as const;
const NUMERIC = ['acquireTimeoutMs', 'queryTimeoutMs'] as const;

/**
 * mysql2's connection and pool options that a URL's query may carry (mysql2 reads them from the
 * URI). Any other parameter (a typo such as `tabel`) is refused rather than silently ignored.
 */
const DRIVER_PARAMS = [
  'bigNumberStrings',
  'charset',
  'compress',
  'connectAttributes',
  'connectTimeout',
  'connectionLimit',
  'dateStrings',
  'debug',
  'decimalNumbers',
  'enableKeepAlive',
  'flags',
  'idleTimeout',
  'insecureAuth',
  'jsonStrings',
  'keepAliveInitialDelay',
  'localAddress',
  'maxIdle',
  'maxPreparedStatements',
  'multipleStatements',
  'password1',
  'password2',
  'password3',
  'queueLimit',
  'resetOnRelease',
  'socketPath',
  'ssl',
  'supportBigNumbers',
  'timezone',
  'trace',
  'waitForConnections',
] as const;

/**
 * `connect('mysql://user:pass@host:3306/db?mode=get-lock&table=locks')` support (the
 * `BackendAdapterModule` contract). The backend creates its own mysql2 pool from the URL and ends
 * it in `close()`. Query parameters `mode`, `table`, `lockNamePrefix`, `acquireTimeoutMs` and
 * `queryTimeoutMs`, and `options` (from
 * `connect(url, { backend })`), set the backend's options; everything else in the URL goes to
 * mysql2 (`connectionLimit`, `connectTimeout`, … see `DRIVER_PARAMS`). Any other parameter or
 * option is a `LockArgumentError` naming it, before any I/O.
 *
 * TLS: lock-core's shared options (`backend: { tls: { ca, cert, key } }`, or the URL's `tlsCa`,
 * `tlsCert`, `tlsKey` naming files) turn it on, and the server's certificate is then always
 * verified, its chain and its identity: the URL's host name (or IP address) must be one the
 * certificate names. mysql2 by itself checks only the chain unless told `verifyIdentity`.
 */
export async function connectBackend(
  url: URL,
  options: Readonly<Record<string, unknown>> = {},
): Promise<LockBackend> {
  const { pool, settings } = await poolFromUrl(url, options);
  try {
    return createMysqlBackend({ ...settings, pool }, pool);
  } catch (error) {
    await pool.end().catch(reported('mysql connect: end the pool after a failed backend'));
    throw error;
  }
}

/**
 * A mysql2 pool from a `mysql://` URL, with TLS as `connectBackend` takes it, and the backend's
 * own settings taken out of the URL (and `options`). The pool is the caller's to end.
 */
export async function poolFromUrl(
  url: URL,
  options: Readonly<Record<string, unknown>> = {},
): Promise<{ pool: OwnedMysqlPool; settings: Omit<MysqlBackendOptions, 'pool'> }> {
  if (url.protocol !== 'mysql:') {
    throw new LockArgumentError(`connectBackend expects a mysql:// URL, got ${url.protocol}`);
  }
  const settings = urlSettings(url, options, {
    strings: STRINGS,
    numbers: NUMERIC,
    options: ['tls'],
    query: [...TLS_URL_PARAMS, ...DRIVER_PARAMS],
  }) as Omit<MysqlBackendOptions, 'pool'>;
  const tls = tlsSettings(url, options);
  if (tls?.servername !== undefined) {
    throw new LockArgumentError(
      'connect: mysql2 verifies the certificate against the URL host name; it takes no tls servername (put that name in the URL)',
    );
  }
  const uri = new URL(url.href);
  for (const name of [...TLS_URL_PARAMS, ...STRINGS, ...NUMERIC]) uri.searchParams.delete(name);
  if (tls && uri.searchParams.has('ssl')) {
    throw new LockArgumentError(
      "connect: give TLS either as mysql2's ?ssl= or as dlock's tls options (tlsCa, …), not both",
    );
  }
  // Fail fast instead of hanging when the server is unreachable.
  if (!uri.searchParams.has('connectTimeout')) uri.searchParams.set('connectTimeout', '5000');
  const { createPool } = await import('mysql2/promise');
  const pool = (tls
    ? createPool({
        uri: uri.href,
        // verifyIdentity is missing from mysql2's types but read by its TLS upgrade.
        ssl: { ...tls, rejectUnauthorized: true, verifyIdentity: true } as unknown as NonNullable<
          PoolOptions['ssl']
        >,
      })
    : createPool(uri.href)) as unknown as OwnedMysqlPool;
  return { pool, settings };
}
