import { LockArgumentError } from './errors.js';

export interface UrlSettingNames {
  /** Settings taken as strings (for example `prefix`). */
  readonly strings?: readonly string[];
  /** Settings parsed as numbers (for example `commandTimeoutMs`). */
  readonly numbers?: readonly string[];
  /**
   * More names `connect()`'s `backend` options may carry, which the adapter reads itself (for
   * example `tls`).
   * @default none
   */
  readonly options?: readonly string[];
  /**
   * More query parameters the URL may carry, which the adapter reads itself or hands to its driver
   * (for example `TLS_URL_PARAMS`, or the driver's own connection options).
   * @default none
   */
  readonly query?: readonly string[];
}

/**
 * For adapters' `connectBackend(url, options)`: the named backend settings from `connect()`'s
 * `backend` options, overridden by the URL's query (`redis://h:6379?prefix=app:`). Numbers in the
 * query are parsed; a value that is not a number is a `LockArgumentError` before any I/O. A query
 * parameter or an option that none of `names` lists is a typo to be told about, not ignored: it
 * is a `LockArgumentError` naming it and the known ones, before any I/O.
 */
export function urlSettings(
  url: URL,
  options: Readonly<Record<string, unknown>>,
  names: UrlSettingNames,
): Record<string, unknown> {
  const settings = [...(names.strings ?? []), ...(names.numbers ?? [])];
  refuseUnknown(url, 'option', Object.keys(options), [...settings, ...(names.options ?? [])]);
  refuseUnknown(
    url,
    "URL's query parameter",
    [...url.searchParams.keys()],
    [...settings, ...(names.query ?? [])],
  );
  const result: Record<string, unknown> = {};
  const read = (name: string): unknown => url.searchParams.get(name) ?? options[name];
  for (const name of names.strings ?? []) {
    const value = read(name);
    if (value !== undefined) result[name] = value;
  }
  for (const name of names.numbers ?? []) {
    const value = read(name);
    if (value === undefined) continue;
    const number = typeof value === 'string' ? Number(value) : value;
    if (typeof number !== 'number' || Number.isNaN(number)) {
      throw new LockArgumentError(`connect: option ${name} must be a number, got ${String(value)}`);
    }
    result[name] = number;
  }
  return result;
}

function refuseUnknown(
  url: URL,
  what: string,
  given: readonly string[],
  known: readonly string[],
): void {
  for (const name of given) {
    if (!known.includes(name)) {
      throw new LockArgumentError(
        `connect('${url.protocol}…'): unknown ${what} "${name}"; known: ${[...new Set(known)].join(', ')}`,
      );
    }
  }
}
