import { LockArgumentError } from '@dlock/lock-core';
import {
  type LockBackend,
  type PemInput,
  TLS_URL_PARAMS,
  type TlsSettings,
  tlsSettings,
  urlSettings,
} from '@dlock/lock-core/spi';
import type { EtcdClientLike } from './driver.js';
import { createEtcdBackend } from './etcd-backend.js';
import { createEtcd3Driver } from './etcd3-driver.js';
import { type EtcdBackendOptions, resolveOptions } from './options.js';
import { probeTls } from './probe-tls.js';

type BackendSettings = Omit<EtcdBackendOptions, 'client'>;

const NUMERIC = ['sessionTtlMs', 'requestTimeoutMs'] as const;

function pem(input: PemInput | undefined): Buffer | undefined {
  if (input === undefined) return undefined;
  const parts = Array.isArray(input) ? input : [input];
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
}

/** etcd3's `credentials` and gRPC channel options for the shared TLS settings. */
function grpcTls(tls: TlsSettings | undefined): Record<string, unknown> {
  if (!tls) return {};
  const key = pem(tls.key);
  const cert = pem(tls.cert);
  return {
    credentials: {
      rootCertificate: pem(tls.ca),
      ...(key ? { privateKey: key } : {}),
      ...(cert ? { certChain: cert } : {}),
    },
    ...(tls.servername
      ? {
          grpcOptions: {
            'grpc.ssl_target_name_override': tls.servername,
            'grpc.default_authority': tls.servername,
          },
        }
      : {}),
  };
}

/**
 * `etcd://host:port` (plain) or `etcds://host:port` (TLS: the system's CAs, or lock-core's shared
 * TLS options `backend: { tls: { ca, cert, key, servername } }` / `?tlsCa=…`). More members:
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
  // Anything else, in the query or in the options, is refused with the known names.
  const settings = urlSettings(url, options, {
    strings: ['prefix'],
    numbers: NUMERIC,
    options: ['tls'],
    query: ['endpoints', ...TLS_URL_PARAMS],
  }) as BackendSettings;
  const tls = tlsSettings(url, options);
  if (tls && url.protocol !== 'etcds:') {
    throw new LockArgumentError(
      'connect: TLS options (tls, tlsCa, tlsCert, tlsKey, tlsServername) need an etcds:// URL',
    );
  }
  if (url.protocol === 'etcds:') {
    // gRPC reports a refused certificate as "14 UNAVAILABLE … Last error: null" and etcd3 then
    // as "circuit breaker is open": one handshake of our own first names the real cause.
    await probeTls(url.hostname, Number(url.port || '2379'), tls ?? {});
  }
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({
    hosts: hostsFrom(url),
    ...grpcTls(tls),
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
    const resolved = resolveOptions({ ...settings, client: client as unknown as EtcdClientLike });
    return createEtcdBackend({
      driver: createEtcd3Driver(resolved.client, resolved.requestTimeoutMs, resolved.prefix),
      prefix: resolved.prefix,
      onClose: async () => client.close(),
    });
  } catch (error) {
    client.close();
    throw error;
  }
}
