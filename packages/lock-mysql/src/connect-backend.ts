import type { LockBackend } from '@dlock/lock-core';
import { LockArgumentError, TLS_URL_PARAMS, tlsSettings } from '@dlock/lock-core';
import type { PoolOptions } from 'mysql2/promise';
import { createBackend } from './mysql-backend.js';
import type { MysqlBackendOptions } from './options.js';
import type { OwnedMysqlPool } from './pool-types.js';

/**
 * `connect('mysql://user:pass@host:3306/db?mode=get-lock&table=locks')` support (the
 * `BackendAdapterModule` contract). The backend creates its own mysql2 pool from the URL and ends
 * it in `close()`. Query parameters `mode`, `table`, `lockNamePrefix`, `acquireTimeoutMs` and
 * `queryTimeoutMs`, and `options` (from
 * `connect(url, { backend })`), set the backend's options; everything else in the URL goes to
 * mysql2 (`connectionLimit`, `connectTimeout`, …).
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
    return createBackend({ ...settings, pool }, pool);
  } catch (error) {
    await pool.end().catch(() => {});
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
  const tls = tlsSettings(url, options);
  if (tls?.servername !== undefined) {
    throw new LockArgumentError(
      'connect: mysql2 verifies the certificate against the URL host name; it takes no tls servername (put that name in the URL)',
    );
  }
  const uri = new URL(url.href);
  for (const name of TLS_URL_PARAMS) uri.searchParams.delete(name);
  if (tls && uri.searchParams.has('ssl')) {
    throw new LockArgumentError(
      "connect: give TLS either as mysql2's ?ssl= or as dlock's tls options (tlsCa, …), not both",
    );
  }
  const fromUrl: Record<string, unknown> = {};
  for (const name of ['mode', 'table', 'lockNamePrefix'] as const) {
    const value = uri.searchParams.get(name);
    if (value !== null) fromUrl[name] = value;
    uri.searchParams.delete(name);
  }
  for (const name of ['acquireTimeoutMs', 'queryTimeoutMs'] as const) {
    const value = uri.searchParams.get(name);
    if (value !== null) fromUrl[name] = Number(value);
    uri.searchParams.delete(name);
  }
  // Fail fast instead of hanging when the server is unreachable.
  if (!uri.searchParams.has('connectTimeout')) uri.searchParams.set('connectTimeout', '5000');
  const { pool: _ignored, tls: _tls, ...rest } = options as Record<string, unknown>;
  const settings = { ...fromUrl, ...rest } as Omit<MysqlBackendOptions, 'pool'>;
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
