import type { LockBackend } from '../backend.js';
import { LockArgumentError } from '../errors.js';
import { validateKey } from '../validate.js';

/** Most distinct keys one `acquireAll` takes: bounds the work and the handle, not the backend. */
export const MAX_ALL_KEYS = 10_000;

/** `maxManyKeys` when the backend declares none (BackendCapabilities). */
const DEFAULT_MANY_KEYS = 64;

/** How one `acquireAll` takes its keys. */
export interface KeyPlan {
  /** The distinct keys in canonical order (UTF-8 bytes): the handle's `locks` order. */
  readonly keys: readonly string[];
  /**
   * The keys again, cut into the batches they are taken in, in that order: one per
   * `manyGroup` group (groups in the order of their group strings as UTF-8 bytes), split into
   * chunks of at most `maxManyKeys`, each in canonical order. Every caller on the backend takes
   * keys in this one global order, so a caller that holds some while waiting for the next can
   * never be part of a cycle.
   */
  readonly batches: readonly (readonly string[])[];
}

/** Validates and orders `keys` (throws `LockArgumentError` before any I/O). */
export function planKeys(keys: unknown, backend: LockBackend): KeyPlan {
  if (!Array.isArray(keys)) {
    throw new LockArgumentError(`acquireAll needs an array of keys, got ${typeof keys}`);
  }
  if (keys.length === 0) throw new LockArgumentError('acquireAll needs at least one key');
  const distinct = [...new Set(keys.map((key) => validateKey(key)))];
  if (distinct.length > MAX_ALL_KEYS) {
    throw new LockArgumentError(
      `acquireAll takes at most ${MAX_ALL_KEYS} distinct keys, got ${distinct.length}`,
    );
  }
  const ordered = byUtf8(distinct, (key) => key);
  if (!backend.tryAcquireMany) return { keys: ordered, batches: [ordered] };
  const size = manyKeys(backend.capabilities.maxManyKeys);
  const groups = new Map<string, string[]>();
  for (const key of ordered) {
    // Without manyGroup every key is in one group.
    const group = backend.manyGroup ? backend.manyGroup(key) : '';
    const members = groups.get(group);
    if (members) members.push(key);
    else groups.set(group, [key]);
  }
  const batches: string[][] = [];
  for (const [, members] of byUtf8([...groups], ([group]) => group)) {
    for (let i = 0; i < members.length; i += size) batches.push(members.slice(i, i + size));
  }
  return { keys: ordered, batches };
}

/** Sorted by the UTF-8 bytes of `text(item)`: not JavaScript's UTF-16 order, which differs. */
function byUtf8<T>(items: readonly T[], text: (item: T) => string): T[] {
  return items
    .map((item) => ({ item, bytes: Buffer.from(text(item), 'utf8') }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ item }) => item);
}

function manyKeys(declared: number | undefined): number {
  if (declared === undefined) return DEFAULT_MANY_KEYS;
  if (!Number.isInteger(declared) || declared < 1) {
    throw new LockArgumentError(
      `The backend declares maxManyKeys ${String(declared)}; it must be a positive integer`,
    );
  }
  return declared;
}
