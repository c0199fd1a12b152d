import { LockArgumentError, type LockBackend, urlSettings } from '@dlock/lock-core';
import type { EtcdClientLike } from './client-types.js';
import { createEtcdBackend } from './etcd-backend.js';
import type { EtcdBackendOptions } from './options.js';

type BackendSettings = Omit<EtcdBackendOptions, 'client'>;

const NUMERIC = ['sessionTtlMs', 'requestTimeoutMs'] as const;
const OURS = ['prefix', 'endpoints', ...NUMERIC];

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
  const settings = urlSettings(url, options, {
    strings: ['prefix'],
    numbers: NUMERIC,
  }) as BackendSettings;
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
