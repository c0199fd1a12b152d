import { LockArgumentError } from './errors.js';

export interface UrlSettingNames {
  /** Settings taken as strings (for example `prefix`). */
  readonly strings?: readonly string[];
  /** Settings parsed as numbers (for example `commandTimeoutMs`). */
  readonly numbers?: readonly string[];
}

/**
 * For adapters' `connectBackend(url, options)`: the named backend settings from `connect()`'s
 * `backend` options, overridden by the URL's query (`redis://h:6379?prefix=app:`). Numbers in the
 * query are parsed; a value that is not a number is a `LockArgumentError` before any I/O. Names
 * not listed are ignored, so the adapter decides what the URL may set.
 */
export function urlSettings(
  url: URL,
  options: Readonly<Record<string, unknown>>,
  names: UrlSettingNames,
): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  const read = (name: string): unknown => url.searchParams.get(name) ?? options[name];
  for (const name of names.strings ?? []) {
    const value = read(name);
    if (value !== undefined) settings[name] = value;
  }
  for (const name of names.numbers ?? []) {
    const value = read(name);
    if (value === undefined) continue;
    const number = typeof value === 'string' ? Number(value) : value;
    if (typeof number !== 'number' || Number.isNaN(number)) {
      throw new LockArgumentError(`connect: option ${name} must be a number, got ${String(value)}`);
    }
    settings[name] = number;
  }
  return settings;
}
