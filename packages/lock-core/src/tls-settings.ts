import { readFileSync } from 'node:fs';
import { LockArgumentError } from './errors.js';

/** PEM text or bytes; a list for several CA certificates. */
export type PemInput = string | Buffer | (string | Buffer)[];

/**
 * TLS settings every scheme takes the same way (`rediss://`, `etcds://`, `mysql://`, Redlock):
 * in `connect(url, { backend: { tls } })` as values, or in the URL as parameters naming files
 * (`?tlsCa=/etc/ssl/ca.pem&tlsCert=…&tlsKey=…&tlsServername=…`). The URL's parameters win.
 * Certificates are always verified; there is no option to switch that off.
 */
export interface TlsSettings {
  /**
   * The CA certificate(s) the server's certificate must chain to, replacing the system's roots.
   * @default the system's (Node's) trusted roots
   */
  ca?: PemInput;
  /**
   * A client certificate, for servers that require one (needs `key`).
   * @default none
   */
  cert?: PemInput;
  /**
   * The client certificate's private key (needs `cert`).
   * @default none
   */
  key?: PemInput;
  /**
   * The name the server's certificate must be issued for.
   * @default the URL's host name
   */
  servername?: string;
}

/** The URL parameters of {@link TlsSettings}, which adapters remove before the driver sees the URL. */
export const TLS_URL_PARAMS = ['tlsCa', 'tlsCert', 'tlsKey', 'tlsServername'] as const;

const FILE_PARAMS = [
  ['tlsCa', 'ca'],
  ['tlsCert', 'cert'],
  ['tlsKey', 'key'],
] as const;

function isPem(value: unknown): boolean {
  if (typeof value === 'string') return value.length > 0;
  if (Buffer.isBuffer(value)) return value.length > 0;
  return (
    Array.isArray(value) && value.length > 0 && value.every((v) => isPem(v) && !Array.isArray(v))
  );
}

/**
 * For adapters' `connectBackend(url, options)`: the TLS settings from the URL's `tlsCa`, `tlsCert`,
 * `tlsKey` (files, read now) and `tlsServername` parameters over `options.tls`, or `undefined`
 * when none is given. A bad value, an unreadable file, or a `cert` without its `key` (or the
 * reverse) is a `LockArgumentError`, before any network I/O.
 */
export function tlsSettings(
  url: URL,
  options: Readonly<Record<string, unknown>>,
): TlsSettings | undefined {
  const given = options.tls;
  if (
    given !== undefined &&
    (typeof given !== 'object' || given === null || Array.isArray(given))
  ) {
    throw new LockArgumentError(
      'connect: option tls must be an object { ca, cert, key, servername }',
    );
  }
  const settings: TlsSettings = {};
  for (const [name, value] of Object.entries((given ?? {}) as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (name === 'servername') {
      if (typeof value !== 'string' || value === '')
        throw new LockArgumentError('connect: tls.servername must be a non-empty string');
      settings.servername = value;
    } else if (name === 'ca' || name === 'cert' || name === 'key') {
      if (!isPem(value))
        throw new LockArgumentError(
          `connect: tls.${name} must be PEM text, a Buffer, or a list of them`,
        );
      settings[name] = value as PemInput;
    } else {
      throw new LockArgumentError(
        `connect: unknown tls option "${name}" (known: ca, cert, key, servername)`,
      );
    }
  }
  for (const [param, name] of FILE_PARAMS) {
    const path = url.searchParams.get(param);
    if (path === null) continue;
    try {
      settings[name] = readFileSync(path);
    } catch (error) {
      throw new LockArgumentError(
        `connect: cannot read the ${param} file ${path}: ${(error as Error).message}`,
      );
    }
  }
  const servername = url.searchParams.get('tlsServername');
  if (servername !== null) {
    if (servername === '') throw new LockArgumentError('connect: tlsServername must not be empty');
    settings.servername = servername;
  }
  if ((settings.cert === undefined) !== (settings.key === undefined)) {
    throw new LockArgumentError('connect: a TLS client certificate needs both cert and key');
  }
  return Object.keys(settings).length === 0 ? undefined : settings;
}

/** `url` without the {@link TLS_URL_PARAMS}, for handing to a driver. */
export function withoutTlsParams(url: URL): URL {
  const copy = new URL(url.href);
  for (const name of TLS_URL_PARAMS) copy.searchParams.delete(name);
  return copy;
}
