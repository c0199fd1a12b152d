import { LockArgumentError } from '@dlock/lock-core';
import { type LockBackend, TLS_URL_PARAMS, tlsSettings, urlSettings } from '@dlock/lock-core/spi';
import type { RedisClientLike } from './client-types.js';
import { parseClusterNodes } from './cluster-nodes.js';
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

/** A Cluster has only database 0, and its seed nodes carry no user info: these go in the query. */
const CLUSTER_DRIVER_PARAMS = ['username', 'password', 'connectionName'] as const;

const SCHEMES = ['redis:', 'rediss:', 'redis+cluster:', 'rediss+cluster:'];

/** The URL without our own query parameters, which ioredis would not understand. */
function driverUrl(url: URL): string {
  const copy = new URL(url.href);
  for (const name of [...STRINGS, ...NUMERIC, ...TLS_URL_PARAMS]) copy.searchParams.delete(name);
  return copy.href;
}

/**
 * `BackendAdapterModule` entry point used by `connect('redis://…')`, `connect('rediss://…')` and,
 * for a Redis Cluster, `connect('redis+cluster:h1:7000,h2:7001?prefix=app:')` and
 * `connect('rediss+cluster:…')` (the seed nodes as the URL's path, see `parseClusterNodes`).
 * Settings (URL query or `connect`'s `backend` options): `prefix`, `pubsub`, `commandTimeoutMs`,
 * `waitForReplicas`, `waitForReplicasTimeoutMs`, `fencingRetentionMs`; for ioredis the query may
 * also carry `family`, `db`, `username`, `password`, `connectionName` (a Cluster URL: `username`,
 * `password`, `connectionName`). Anything else is a `LockArgumentError` naming it, before any I/O.
 * Creates its own ioredis client (a `Cluster` for the cluster schemes) from the URL (TLS for
 * `rediss:` and `rediss+cluster:`, with the shared TLS options of lock-core's `tlsSettings`:
 * `backend: { tls: { ca, cert, key, servername } }` or the URL's `tlsCa`, `tlsCert`, `tlsKey`,
 * `tlsServername`) and closes it in `close()`.
 * ioredis is loaded lazily so that importing this package never requires it.
 */
export async function connectBackend(
  url: URL,
  options: Readonly<Record<string, unknown>> = {},
): Promise<LockBackend> {
  if (!SCHEMES.includes(url.protocol)) {
    throw new LockArgumentError(
      `connect: @dlock/lock-redis handles redis://, rediss://, redis+cluster: and rediss+cluster: URLs, not ${url.protocol}`,
    );
  }
  const cluster = url.protocol.endsWith('+cluster:');
  const secure = url.protocol.startsWith('rediss');
  const nodes = cluster ? parseClusterNodes(url) : [];
  const settings = urlSettings(url, options, {
    strings: STRINGS,
    numbers: NUMERIC,
    options: ['tls'],
    query: [...TLS_URL_PARAMS, ...(cluster ? CLUSTER_DRIVER_PARAMS : DRIVER_PARAMS)],
  }) as BackendSettings;
  const tls = tlsSettings(url, options);
  if (tls && !secure) {
    throw new LockArgumentError(
      `connect: TLS options (tls, tlsCa, tlsCert, tlsKey, tlsServername) need a ${cluster ? 'rediss+cluster:' : 'rediss://'} URL`,
    );
  }
  // For rediss: the certificate is always verified (ioredis passes tls to tls.connect, whose
  // rejectUnauthorized defaults to true), against `ca` when given, else the system's roots.
  const tlsOption = secure ? { tls: { ...tls, rejectUnauthorized: true } } : {};
  if (cluster) {
    const query = url.searchParams;
    const auth: Record<string, string> = {};
    for (const name of CLUSTER_DRIVER_PARAMS) {
      const value = query.get(name);
      if (value !== null) auth[name] = value;
    }
    const { Cluster } = await import('ioredis');
    // Our own client, so we may choose fail-fast options, as for the standalone scheme.
    const client = new Cluster(
      nodes.map(({ host, port }) => ({ host, port })),
      { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1, ...auth, ...tlsOption } },
    );
    return ownClient(settings, client);
  }
  const { Redis } = await import('ioredis');
  // Our own client, so we may choose fail-fast options: no offline queue beyond one retry.
  const client = new Redis(driverUrl(url), {
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    ...tlsOption,
  });
  return ownClient(settings, client);
}

/** A client we created from the URL: quiet (errors reach callers), ended by `close()`. */
function ownClient(
  settings: Parameters<typeof withClient>[0],
  client: {
    readonly status: string;
    on(event: 'error', listener: () => void): unknown;
    quit(): Promise<unknown>;
    disconnect(): void;
  },
) {
  client.on('error', () => {}); // failures reach callers as LockBackendError; no console noise
  return withClient(settings, client as unknown as RedisClientLike, async () => {
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else client.disconnect();
  });
}

/** The backend on a client we created, which `close()` ends (and so does a failed start). */
function withClient(
  settings: BackendSettings,
  client: RedisClientLike,
  close: () => Promise<void>,
): LockBackend {
  try {
    return createRedisBackend({ ...settings, client }, close);
  } catch (error) {
    (client as unknown as { disconnect(): void }).disconnect();
    throw error;
  }
}
