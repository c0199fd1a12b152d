import { LockArgumentError, type LockBackend, urlSettings } from '@dlock/lock-core';
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

/** The URL without our own query parameters, which ioredis would not understand. */
function driverUrl(url: URL): string {
  const copy = new URL(url.href);
  for (const name of ['prefix', ...NUMERIC]) copy.searchParams.delete(name);
  return copy.href;
}

/**
 * `BackendAdapterModule` entry point used by `connect('redis://…')` and `connect('rediss://…')`.
 * Creates its own ioredis client from the URL (TLS for `rediss:`) and closes it in `close()`.
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
    strings: ['prefix'],
    numbers: NUMERIC,
  }) as BackendSettings;
  const { Redis } = await import('ioredis');
  // Our own client, so we may choose fail-fast options: no offline queue beyond one retry.
  const client = new Redis(driverUrl(url), { maxRetriesPerRequest: 1, lazyConnect: true });
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
