import { readFileSync } from 'node:fs';
import {
  type BackendAdapterModule,
  connect,
  createLockClient,
  type LockClient,
  type LockClientOptions,
} from '@dlock/lock-core';
import { InputError, UsageError } from './cli-error.js';
import { refuseProcessLocal } from './process-local-url.js';

/** The embedded default: one SQLite file per host, /var/tmp/dlock/locks.db (see @dlock/lock-sqlite). */
export const DEFAULT_URL = 'sqlite:';

/**
 * Environment variables that give the backend's password without putting it on the command
 * line, where `ps` shows it to every local user (as `REDISCLI_AUTH` and `MYSQL_PWD` do):
 * `DLOCK_PASSWORD` holds it, `DLOCK_PASSWORD_FILE` names a file whose first line holds it.
 * Used only when the URL has no password of its own.
 */
export const PASSWORD_ENV = 'DLOCK_PASSWORD';
export const PASSWORD_FILE_ENV = 'DLOCK_PASSWORD_FILE';

/** Variables with credentials that `dlock run` keeps from COMMAND unless `--pass-url`. */
export const CREDENTIAL_ENV = ['DLOCK_URL', PASSWORD_ENV, PASSWORD_FILE_ENV] as const;

/** The connection options every command that talks to a backend takes. */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-servername': { type: 'string' },
} as const;

/** The backend's options with `--json` and `-h/--help`: what every command that reads it takes. */
export const COMMON_OPTIONS = {
  ...CONNECTION_OPTIONS,
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const connectionHelp = `  --url URL              lock backend (default: $DLOCK_URL, else the embedded SQLite file)
  --tls-ca FILE          PEM file of the CA(s) that signed the server's certificate (TLS)
  --tls-cert FILE        PEM file of a client certificate (TLS)
  --tls-key FILE         PEM file of the client certificate's private key (TLS)
  --tls-servername NAME  host name to verify the server's certificate against (TLS)`;

export const credentialsHelp = `Credentials: put the password in $DLOCK_PASSWORD, or in a file named by $DLOCK_PASSWORD_FILE
(its first line), rather than in --url, where every local user can read it with ps. It is used
when the URL has none (for redlock: and redis+cluster: as its ?password=).`;

interface ConnectionValues {
  readonly url?: string | undefined;
  readonly 'tls-ca'?: string | undefined;
  readonly 'tls-cert'?: string | undefined;
  readonly 'tls-key'?: string | undefined;
  readonly 'tls-servername'?: string | undefined;
}

const TLS_PARAMS = [
  ['tls-ca', 'tlsCa'],
  ['tls-cert', 'tlsCert'],
  ['tls-key', 'tlsKey'],
  ['tls-servername', 'tlsServername'],
] as const;

/** `--url`, else `DLOCK_URL`, else the embedded SQLite default. */
export function resolveUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? (env.DLOCK_URL || DEFAULT_URL);
}

/**
 * The backend URL with the `--tls-*` flags as its `tlsCa`, `tlsCert`, `tlsKey` and
 * `tlsServername` parameters (file paths and a name: nothing secret, so it may be printed once
 * masked). A URL that does not parse is returned as it is, for openClient to refuse.
 */
export function connectionUrl(values: ConnectionValues, env: NodeJS.ProcessEnv): string {
  const url = resolveUrl(values.url, env);
  if (TLS_PARAMS.every(([flag]) => values[flag] === undefined)) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  for (const [flag, param] of TLS_PARAMS) {
    const value = values[flag];
    if (value === undefined) continue;
    if (flag !== 'tls-servername') readable(`--${flag}`, value);
    parsed.searchParams.set(param, value);
  }
  return parsed.href;
}

function readable(what: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new InputError(`${what}: cannot read ${path} (${(error as Error).message})`);
  }
}

/** The password from `DLOCK_PASSWORD` or the first line of `DLOCK_PASSWORD_FILE`, if any. */
export function envPassword(env: NodeJS.ProcessEnv): string | undefined {
  const file = env[PASSWORD_FILE_ENV];
  if (file) {
    const line = readable(`$${PASSWORD_FILE_ENV}`, file).split(/\r?\n/, 1)[0] ?? '';
    if (line === '') throw new InputError(`$${PASSWORD_FILE_ENV}: ${file} is empty`);
    return line;
  }
  return env[PASSWORD_ENV] || undefined;
}

const PASSWORD_IN_QUERY = ['redlock:', 'redis+cluster:', 'rediss+cluster:'];

/** `url` with the password from the environment put where its scheme takes one. */
function withPassword(url: URL, password: string | undefined): URL {
  if (password === undefined) return url;
  const copy = new URL(url.href);
  // These list several hosts as the URL's path, so they have no user info: ?password= instead.
  if (PASSWORD_IN_QUERY.includes(copy.protocol)) {
    if (!copy.searchParams.has('password')) copy.searchParams.set('password', password);
  } else if (copy.password === '') {
    // A URL's user info needs a user to hold a password; Redis's default user has no name.
    copy.password = encodeURIComponent(password);
  }
  return copy;
}

/**
 * The adapters the CLI ships with, imported from its own dependencies. lock-core's `connect()`
 * looks for an adapter beside lock-core or in the project in the current directory, and neither
 * is where `npm i -g @dlock/cli` or `npx @dlock/cli` keeps the CLI's dependencies. Each loads
 * only when its scheme is used, so `dlock run` on SQLite never loads ioredis.
 */
const ADAPTERS: Readonly<Record<string, () => Promise<BackendAdapterModule>>> = {
  'sqlite:': () => import('@dlock/lock-sqlite'),
  'redis:': () => import('@dlock/lock-redis'),
  'rediss:': () => import('@dlock/lock-redis'),
  'redis+cluster:': () => import('@dlock/lock-redis'),
  'rediss+cluster:': () => import('@dlock/lock-redis'),
  'mysql:': () => import('@dlock/lock-mysql'),
  'etcd:': () => import('@dlock/lock-etcd'),
  'etcds:': () => import('@dlock/lock-etcd'),
  'redlock:': () => import('@dlock/redlock'),
};

/**
 * Opens a lock client on `url` through the adapter the CLI ships for its scheme (see
 * {@link ADAPTERS}); any other scheme goes to lock-core's `connect()`, which answers `memory:`
 * and unknown schemes. The password may come from the environment ({@link PASSWORD_ENV},
 * {@link PASSWORD_FILE_ENV}).
 */
export async function openClient(
  url: string,
  options: LockClientOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LockClient> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(
      `"${url}" is not a lock URL. Examples: sqlite:./locks.db, redis://127.0.0.1:6379, mysql://user:pass@host/db, etcd://127.0.0.1:2379`,
    );
  }
  refuseProcessLocal(parsed);
  const load = ADAPTERS[parsed.protocol];
  if (load === undefined) return connect(withPassword(parsed, envPassword(env)), options);
  // Drivers decode these parts with decodeURIComponent, whose URIError names nothing.
  for (const [part, text] of [
    ['user', parsed.username],
    ['password', parsed.password],
    ['path', parsed.pathname],
    ['query', parsed.search],
  ] as const) {
    try {
      decodeURIComponent(text);
    } catch {
      throw new UsageError(`the ${part} in the URL has a malformed % escape (write % as %25)`);
    }
  }
  const target = parsed.protocol === 'sqlite:' ? parsed : withPassword(parsed, envPassword(env));
  const backend = await (await load()).connectBackend(target, {});
  try {
    return createLockClient(backend, options);
  } catch (error) {
    await backend.close();
    throw error;
  }
}
