import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BackendAdapterModule, LockBackend } from './backend.js';
import { createLockClient } from './client.js';
import { reported } from './diagnostics.js';
import { LockArgumentError } from './errors.js';
import { memoryBackend } from './memory/memory-backend.js';
import { maskCredentials } from './redact.js';
import type { LockClient, LockClientOptions } from './types.js';

/** URL schemes and the adapter package that serves each. */
export const ADAPTERS: Readonly<Record<string, { readonly pkg: string; readonly driver: string }>> =
  {
    'redis:': { pkg: '@dlock/lock-redis', driver: 'ioredis' },
    'rediss:': { pkg: '@dlock/lock-redis', driver: 'ioredis' },
    /** `redis+cluster:host1:7000,host2:7001?prefix=app:`: a Redis Cluster's seed nodes. */
    'redis+cluster:': { pkg: '@dlock/lock-redis', driver: 'ioredis' },
    'rediss+cluster:': { pkg: '@dlock/lock-redis', driver: 'ioredis' },
    'mysql:': { pkg: '@dlock/lock-mysql', driver: 'mysql2' },
    'etcd:': { pkg: '@dlock/lock-etcd', driver: 'etcd3' },
    'etcds:': { pkg: '@dlock/lock-etcd', driver: 'etcd3' },
    'sqlite:': { pkg: '@dlock/lock-sqlite', driver: 'better-sqlite3' },
    /** `redlock:host1:6379,host2:6379,host3:6379?prefix=app:` (no `//`: several hosts). */
    'redlock:': { pkg: '@dlock/redlock', driver: 'ioredis' },
  };

export interface ConnectOptions extends LockClientOptions {
  /** Options passed to the adapter's `connectBackend` (for example `{ prefix }`). */
  backend?: Record<string, unknown>;
}

type Importer = (specifier: string) => Promise<unknown>;

/**
 * Builds a client from a URL, so the backend is configuration: `memory:`, `redis://…`,
 * `rediss://…`, `redis+cluster:h1:7000,h2:7001` (or `rediss+cluster:…`), `mysql://…`, `etcd://…`, `etcds://…`, `redlock:h1:6379,h2:6379,h3:6379`,
 * `sqlite:./file.db` (or `sqlite:` for a default file). The adapter package is loaded on demand;
 * when it is not installed the error names the package to install. An unknown option (in
 * `options`, in `options.backend` or in the URL's query) is a `LockArgumentError` naming it and
 * the known ones, before any I/O.
 */
export function connect(url: string | URL, options?: ConnectOptions): Promise<LockClient> {
  return connectWith(importAdapter, url, options);
}

/**
 * Loads an adapter package from where lock-core is installed, else from the project in the
 * current directory. The second place matters under strict layouts (pnpm): the application
 * depends on both packages, but lock-core cannot see its siblings from its own folder.
 */
async function importAdapter(specifier: string): Promise<unknown> {
  try {
    return await import(specifier);
  } catch (error) {
    if (!isModuleNotFound(error, specifier)) throw error;
    let resolved: string;
    try {
      resolved = createRequire(join(process.cwd(), 'package.json')).resolve(specifier);
    } catch {
      throw error;
    }
    return import(pathToFileURL(resolved).href);
  }
}

/** `connect` with the module loader injected (tests resolve adapters that do not exist yet). */
export async function connectWith(
  importer: Importer,
  url: string | URL,
  options: ConnectOptions = {},
): Promise<LockClient> {
  const parsed = parseUrl(url);
  checkEscapes(parsed);
  const { backend: backendOptions = {}, ...clientOptions } = options;
  if (parsed.protocol === 'memory:') {
    if (parsed.search !== '') {
      throw new LockArgumentError(
        `connect('memory:') takes no query parameters, got ${parsed.search}`,
      );
    }
    return createLockClient(memoryBackend(backendOptions), clientOptions);
  }
  const adapter = ADAPTERS[parsed.protocol];
  if (!adapter) {
    const known = ['memory:', ...Object.keys(ADAPTERS)].join(', ');
    throw new LockArgumentError(
      `Unsupported lock URL scheme "${parsed.protocol}"; known schemes: ${known}`,
    );
  }
  let mod: Partial<BackendAdapterModule>;
  try {
    mod = (await importer(adapter.pkg)) as Partial<BackendAdapterModule>;
  } catch (error) {
    if (!isModuleNotFound(error, adapter.pkg)) throw error;
    throw new LockArgumentError(
      `connect('${parsed.protocol}${parsed.href.startsWith(`${parsed.protocol}//`) ? '//' : ''}…') needs the package ${adapter.pkg}, which is not installed. ` +
        `Install it with: npm install ${adapter.pkg} ${adapter.driver}`,
    );
  }
  if (typeof mod.connectBackend !== 'function') {
    throw new LockArgumentError(
      `${adapter.pkg} does not export connectBackend(url, options); is it an older version?`,
    );
  }
  const backend: LockBackend = await mod.connectBackend(parsed, backendOptions);
  try {
    return createLockClient(backend, clientOptions);
  } catch (error) {
    await backend.close().catch(reported('connect: close after a failed client'));
    throw error;
  }
}

function parseUrl(url: string | URL): URL {
  if (url instanceof URL) return url;
  if (typeof url !== 'string' || url.length === 0) {
    throw new LockArgumentError(
      'connect() needs a URL such as "memory:" or "redis://127.0.0.1:6379"',
    );
  }
  try {
    return new URL(url);
  } catch {
    // Quoted with its credentials masked: an unparsable URL may still hold a password.
    throw new LockArgumentError(`Not a valid lock URL: ${JSON.stringify(maskCredentials(url))}`);
  }
}

/**
 * Drivers decode the URL's user, password and path with `decodeURIComponent`, which throws a
 * bare `URIError` on a malformed `%` escape: refuse it here, as a bad argument, before any I/O.
 */
function checkEscapes(url: URL): void {
  const parts = {
    user: url.username,
    password: url.password,
    path: url.pathname,
    query: url.search,
  };
  for (const [part, text] of Object.entries(parts)) {
    try {
      decodeURIComponent(text);
    } catch {
      throw new LockArgumentError(
        `The lock URL's ${part} has a malformed % escape (write a literal % as %25): ${maskCredentials(url.href)}`,
      );
    }
  }
}

function isModuleNotFound(error: unknown, pkg: string): boolean {
  const e = error as { code?: string; message?: string };
  return (
    (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') &&
    (e.message ?? '').includes(pkg)
  );
}
