import { LockArgumentError, type LockBackend } from '@dlock/lock-core';
import type { EtcdClientLike } from './client-types.js';
import { createEtcdBackend } from './etcd-backend.js';
import type { EtcdBackendOptions } from './options.js';

type BackendSettings = Omit<EtcdBackendOptions, 'client'>;

const NUMERIC = ['sessionTtlMs', 'requestTimeoutMs'] as const;
const OURS = ['prefix', 'endpoints', ...NUMERIC];

/** Backend options from `connect()`'s options, overridden by the URL's query (`?prefix=app/`). */
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

/**
 * `etcd://host:port` (plain) or `etcds://host:port` (TLS with the system's CAs). More members:
 * `?endpoints=host2:2379,host3:2379`. `etcd://user:pass@host:port` authenticates.
 */
function hostsFrom(url: URL): string[] {
  const scheme = url.protocol === 'etcds:' ? 'https' : 'http';
  const first = `${url.hostname}:${url.port || '2379'}`;
  const more = (url.searchParams.get('endpoints') ?? '').split(',').filter((h) => h.length > 0);
  return [first, ...more].map((host) => `${scheme}://${host}`);
}

/**
 * `BackendAdapterModule` entry point used by `connect('etcd://…')` and `connect('etcds://…')`.
 * Creates its own etcd3 client from the URL and closes it in `close()`. etcd3 is loaded lazily
 * so that importing this package never requires it.
 */
export async function connectBackend(
  url: URL,
  options: Readonly<Record<string, unknown>> = {},
): Promise<LockBackend> {
  if (url.protocol !== 'etcd:' && url.protocol !== 'etcds:') {
    throw new LockArgumentError(
      `connect: @dlock/lock-etcd handles etcd:// and etcds:// URLs, not ${url.protocol}`,
    );
  }
  for (const name of Object.keys(options)) {
    if (!OURS.includes(name)) throw new LockArgumentError(`connect: unknown etcd option "${name}"`);
  }
  const settings = settingsFrom(url, options);
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({
    hosts: hostsFrom(url),
    ...(url.username
      ? {
          auth: {
            username: decodeURIComponent(url.username),
            password: decodeURIComponent(url.password),
          },
        }
      : {}),
  });
  try {
    return createEtcdBackend(
      { ...settings, client: client as unknown as EtcdClientLike },
      async () => client.close(),
    );
  } catch (error) {
    client.close();
    throw error;
  }
}
