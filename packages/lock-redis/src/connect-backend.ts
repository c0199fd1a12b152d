import { LockArgumentError, type LockBackend } from '@dlock/lock-core';
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

/** Backend options from `connect()`'s options, overridden by the URL's query (`?prefix=app:`). */
function settingsFrom(url: URL, options: Readonly<Record<string, unknown>>): BackendSettings {
  const settings: Record<string, unknown> = {};
  const read = (name: string): unknown => url.searchParams.get(name) ?? options[name];
  const prefix = read('prefix');
  if (prefix !== undefined) settings.prefix = prefix;
  for (const name of NUMERIC) {
    const value = read(name);
    if (value === undefined) continue;
    const number = typeof value === 'string' ? Number(value) : value;
    if (typeof number !== 'number' || Number.isNaN(number)) {
      throw new LockArgumentError(`connect: option ${name} must be a number, got ${String(value)}`);
    }
    settings[name] = number;
  }
  return settings as BackendSettings;
}

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
  const settings = settingsFrom(url, options);
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
