import { LockArgumentError, LockBackendError } from '@dlock/lock-core';
import { type LockBackend, TLS_URL_PARAMS, tlsSettings, urlSettings } from '@dlock/lock-core/spi';
import type { RedlockClientLike } from './client-types.js';
import { RedlockNodeError } from './errors.js';
import { nodeAddress, type RedlockBackendOptions, refuseDuplicateNodes } from './options.js';
import { createRedlockBackend } from './redlock-backend.js';

type BackendSettings = Omit<RedlockBackendOptions, 'clients'>;

const NUMERIC = [
  'driftFactor',
  'nodeTimeoutMs',
  'subscribeTimeoutMs',
  'restartQuarantineMs',
  'fencingRetentionMs',
] as const;

/** A node refused us for good (certificate, password, ACL), rather than being unreachable. */
function isRefusal(error: Error & { code?: string }): boolean {
  const code = error.code;
  if (code && (/^ERR_(TLS|SSL)_/.test(code) || !/^E[A-Z_]+$/.test(code))) return true;
  return /WRONGPASS|NOAUTH|NOPERM|invalid password/i.test(error.message);
}

interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * `h1:p1,h2:p2,[::1]:p3` from the URL's path. A comma-separated host list is not a valid URL
 * authority (`redlock://h1:p1,h2:p2` does not parse), so the nodes are the opaque path of
 * `redlock:h1:p1,h2:p2,h3:p3`. A node without a port uses 6379.
 */
function parseNodes(url: URL): NodeAddress[] {
  const list = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
  if (list === '') {
    throw new LockArgumentError(
      'connect: a redlock URL lists its nodes, as in redlock:h1:6379,h2:6379,h3:6379',
    );
  }
  const nodes = list.split(',').map((entry) => {
    const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(entry.trim());
    if (!match) throw new LockArgumentError(`connect: bad redlock node "${entry}"`);
    const host = match[1]!.replace(/^\[(.*)\]$/, '$1');
    const port = match[2] === undefined ? 6379 : Number(match[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new LockArgumentError(`connect: bad port in redlock node "${entry}"`);
    }
    return { host, port };
  });
  refuseDuplicateNodes(nodes.map(({ host, port }) => nodeAddress(host, port)));
  return nodes;
}

/**
 * `BackendAdapterModule` entry point for `connect('redlock:h1:6379,h2:6379,h3:6379?prefix=app:')`.
 * Query parameters: `prefix`, `driftFactor`, `nodeTimeoutMs`, `subscribeTimeoutMs`,
 * `restartQuarantineMs`, and for the
 * connections `username`, `password`, `db` and `tls=true`, and lock-core's shared TLS options
 * (`backend: { tls: { ca, cert, key, servername } }` or `tlsCa`, `tlsCert`, `tlsKey`,
 * `tlsServername`, which imply `tls=true`). Any other parameter or option, and a node listed twice,
 * is a `LockArgumentError` before any I/O. Creates one ioredis client per node
 * (fail-fast: no offline queue) and closes them in `close()`. ioredis is loaded lazily.
 */
export async function connectBackend(
  url: URL,
  options: Readonly<Record<string, unknown>> = {},
): Promise<LockBackend> {
  if (url.protocol !== 'redlock:') {
    throw new LockArgumentError(
      `connect: @dlock/redlock handles redlock: URLs, not ${url.protocol}`,
    );
  }
  const nodes = parseNodes(url);
  const settings = urlSettings(url, options, {
    strings: ['prefix'],
    numbers: NUMERIC,
    options: ['tls'],
    query: ['username', 'password', 'db', 'tls', ...TLS_URL_PARAMS],
  }) as BackendSettings;
  const query = url.searchParams;
  const tls = tlsSettings(url, options);
  const tlsParam = query.get('tls');
  if (tlsParam !== null && tlsParam !== 'true' && tlsParam !== 'false') {
    throw new LockArgumentError(
      `connect: redlock's tls parameter is true or false, got "${tlsParam}"`,
    );
  }
  if (tls && tlsParam === 'false') {
    throw new LockArgumentError('connect: TLS options were given with tls=false');
  }
  const { Redis } = await import('ioredis');
  const connection = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    ...(query.get('username') === null ? {} : { username: query.get('username')! }),
    ...(query.get('password') === null ? {} : { password: query.get('password')! }),
    ...(query.get('db') === null ? {} : { db: Number(query.get('db')) }),
    // TLS for tls=true or any TLS option; certificates are always verified.
    ...(tlsParam === 'true' || tls ? { tls: { ...tls, rejectUnauthorized: true } } : {}),
  };
  // The last connection error of each node: without an offline queue a later call only says
  // "Stream isn't writeable", so a refused certificate or password is named here instead.
  const refusals = new Map<number, Error>();
  const clients = nodes.map(({ host, port }, i) => {
    const client = new Redis({ host, port, ...connection });
    // Failures reach callers as LockBackendError; no console noise.
    client.on('error', (error: Error) => {
      if (isRefusal(error)) refusals.set(i, error);
    });
    return client;
  });
  // Without an offline queue a call before the handshake fails: wait for the nodes that come up.
  let ready = 0;
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, settings.subscribeTimeoutMs ?? 2_000).unref();
          client.once('ready', () => {
            ready++;
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
  if (ready < Math.floor(clients.length / 2) + 1 && refusals.size > 0) {
    for (const client of clients) client.disconnect();
    const errors = [...refusals].map(
      ([i, error]) => new RedlockNodeError(`${nodes[i]!.host}:${nodes[i]!.port}`, error),
    );
    throw new LockBackendError(
      'redlock',
      'connect',
      new AggregateError(errors, errors.map((e) => e.message).join('; ')),
    );
  }
  try {
    return createRedlockBackend(
      { ...settings, clients: clients as unknown as RedlockClientLike[] },
      async () => {
        await Promise.all(
          clients.map((client) =>
            client.status === 'ready'
              ? client.quit().then(
                  () => {},
                  () => client.disconnect(),
                )
              : client.disconnect(),
          ),
        );
      },
    );
  } catch (error) {
    for (const client of clients) client.disconnect();
    throw error;
  }
}
