import { LockArgumentError } from '@dlock/lock-core';
import { type LockBackend, TLS_URL_PARAMS, tlsSettings, urlSettings } from '@dlock/lock-core/spi';
import type { RedisClientLike } from './client-types.js';
import type { RedisBackendOptions } from './options.js';
import { createRedisBackend } from './redis-backend.js';

type BackendSettings = Omit<RedisBackendOptions, 'client'>;

const NUMERIC = [
  'commandTimeoutMs',
  'waitForReplicas',
  'waitForReplicasTimeoutMs',
  'fencingRetentionMs',
] as const;

const STRINGS = ['prefix', 'pubsub'] as const;

/**
 * The query parameters handed to ioredis, which reads them as connection options. Any other
 * parameter (a typo such as `prefx`) is refused rather than silently ignored.
 */
const DRIVER_PARAMS = ['family', 'db', 'username', 'password', 'connectionName'] as const;

/** The URL without our own query parameters, which ioredis would not understand. */
function driverUrl(url: URL): string {
  const copy = new URL(url.href);
  for (const name of [...STRINGS, ...NUMERIC, ...TLS_URL_PARAMS]) copy.searchParams.delete(name);
  return copy.href;
}

/**
 * `BackendAdapterModule` entry point used by `connect('redis://…')` and `connect('rediss://…')`.
 * Settings (URL query or `connect`'s `backend` options): `prefix`, `pubsub`, `commandTimeoutMs`,
 * `waitForReplicas`, `waitForReplicasTimeoutMs`, `fencingRetentionMs`; for ioredis the query may
 * also carry `family`, `db`, `username`, `password`, `connectionName`. Anything else is a
 * `LockArgumentError` naming it, before any I/O.
 * Creates its own ioredis client from the URL (TLS for `rediss:`, with the shared TLS options of
 * lock-core's `tlsSettings`: `backend: { tls: { ca, cert, key, servername } }` or the URL's
 * `tlsCa`, `tlsCert`, `tlsKey`, `tlsServername`) and closes it in `close()`.
 * ioredis is loaded lazily so that importing this package never requires it.
 */
export async function connectBackend(
  url: URL,
  options: Readonly<Record<string, unknown>> = {},
): Promise<LockBackend> {
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new LockArgumentError(
      `connect: @dlock/lock-redis handles redis:// and rediss:// URLs, not ${url.protocol}`,
    );
  }
  const settings = urlSettings(url, options, {
    strings: STRINGS,
    numbers: NUMERIC,
    options: ['tls'],
    query: [...TLS_URL_PARAMS, ...DRIVER_PARAMS],
  }) as BackendSettings;
  const tls = tlsSettings(url, options);
  if (tls && url.protocol !== 'rediss:') {
    throw new LockArgumentError(
      'connect: TLS options (tls, tlsCa, tlsCert, tlsKey, tlsServername) need a rediss:// URL',
    );
  }
  const { Redis } = await import('ioredis');
  // Our own client, so we may choose fail-fast options: no offline queue beyond one retry.
  // For rediss: the certificate is always verified (ioredis passes tls to tls.connect, whose
  // rejectUnauthorized defaults to true), against `ca` when given, else the system's roots.
  const client = new Redis(driverUrl(url), {
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    ...(url.protocol === 'rediss:' ? { tls: { ...tls, rejectUnauthorized: true } } : {}),
  });
  client.on('error', () => {}); // failures reach callers as LockBackendError; no console noise
  try {
    return createRedisBackend(
      { ...settings, client: client as unknown as RedisClientLike },
      async () => {
        if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
        else client.disconnect();
      },
    );
  } catch (error) {
    client.disconnect();
    throw error;
  }
}
