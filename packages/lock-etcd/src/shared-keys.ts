/**
 * What dlock writes in etcd for semaphores and read-write locks:
 *
 *   `${prefix}sem/${key}/q${leaseHex}_${n}`  value: {"owner","count","permits","limit","queued"?}
 *   `${prefix}rw/${key}/q${leaseHex}_${n}`   value: {"owner","mode","read","write","queued"?}
 *
 * One key per contender (holder or waiter) directly under the primitive's queue prefix, on the
 * session lease of its TTL, ordered by create revision (FIFO). A read-write owner has one key for
 * both its holds: a write holder that takes the read lock (downgrade) keeps the write key's place
 * in the queue, and releasing the write turns the key's mode to `read` in place, so a writer queued
 * behind it cannot slip in (the bug Curator fixed in CURATOR-621).
 *
 * The name's last segment starts with `q`, which is not a hex digit: no key here is ever a
 * contender of the mutex (`${prefix}${key}/<hex>_<n>`), not even of a mutex key named `sem/x`,
 * whose queue prefix `${prefix}sem/x/` is also this semaphore's (the mutex skips our keys there,
 * as it skips nested lock names, and `list()` lists mutexes only).
 */
import type { LeaseKind } from '@dlock/lock-core/spi';
import { leaseHex } from './keys.js';

export type Family = 'semaphore' | 'read-write';

/** The queue prefix of a semaphore or read-write key. */
export function sharedQueue(prefix: string, family: Family, key: string): string {
  return `${prefix}${family === 'semaphore' ? 'sem' : 'rw'}/${key}/`;
}

/** A contender key: `q`, the session lease in hex and a number the backend never reuses. */
export function sharedContenderKey(queue: string, leaseId: string, sequence: number): string {
  return `${queue}q${leaseHex(leaseId)}_${sequence.toString(16)}`;
}

const CONTENDER = /^q[0-9a-f]+_[0-9a-f]+$/;

/** Whether `key` is a contender directly in `queue` (not one of a nested name such as `a/b`). */
export function isSharedContender(queue: string, key: string): boolean {
  return (
    key.length > queue.length && key.startsWith(queue) && CONTENDER.test(key.slice(queue.length))
  );
}

export function familyOf(kind: LeaseKind): Family {
  return kind === 'semaphore' ? 'semaphore' : 'read-write';
}

/** A semaphore contender's value. `count` is 0 while it waits. */
export interface SemaphoreValue {
  readonly owner: string;
  readonly count: number;
  readonly permits: number;
  /** The limit this contender was admitted with (the oldest live contender's is the key's). */
  readonly limit: number;
  /** See {@link Queued}. */
  readonly queued: Queued;
  /** Not written by dlock: blocks everything behind it, matches no owner. */
  readonly foreign: boolean;
}

/** A read-write contender's value: its hold counts and the mode it queues or holds in. */
export interface ReadWriteValue {
  readonly owner: string;
  /** `write` while it holds or waits for the write lock; `read` otherwise. */
  readonly mode: 'read' | 'write';
  readonly read: number;
  readonly write: number;
  /** See {@link Queued}. */
  readonly queued: Queued;
  readonly foreign: boolean;
}

/**
 * `queued`: set when a contender is refused and stays in the queue (a waiter entry), cleared by
 * its grant. It changes no grant decision (the rules in shared-rules.ts count the key either way,
 * so nobody behind it passes it), but it tells a holder from a waiter whose turn has come while
 * its owner has not asked again yet (`inspect`), and clearing it is the event that wakes the
 * semaphore waiter queued right behind, which watches only its predecessor's key (no herd).
 */
type Queued = boolean;

export function encodeSemaphore(v: Omit<SemaphoreValue, 'foreign'>): string {
  return JSON.stringify({
    owner: v.owner,
    count: v.count,
    permits: v.permits,
    limit: v.limit,
    ...(v.queued ? { queued: true } : {}),
  });
}

export function encodeReadWrite(v: Omit<ReadWriteValue, 'foreign'>): string {
  return JSON.stringify({
    owner: v.owner,
    mode: v.mode,
    read: v.read,
    write: v.write,
    ...(v.queued ? { queued: true } : {}),
  });
}

const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const positive = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;

function parse(value: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function foreignOwner(lease: string): string {
  return `etcd-lease:${lease === '0' ? '0' : leaseHex(lease)}`;
}

/** Anything else under the prefix counts as taking every permit, so it can never over-admit. */
export function decodeSemaphore(value: string, lease: string): SemaphoreValue {
  const v = parse(value);
  if (
    v &&
    typeof v.owner === 'string' &&
    v.owner !== '' &&
    count(v.count) &&
    positive(v.permits) &&
    positive(v.limit)
  ) {
    return {
      owner: v.owner,
      count: v.count,
      permits: v.permits,
      limit: v.limit,
      queued: v.queued === true,
      foreign: false,
    };
  }
  return {
    owner: foreignOwner(lease),
    count: 1,
    permits: Number.POSITIVE_INFINITY,
    limit: Number.NaN,
    queued: false,
    foreign: true,
  };
}

/** Anything else under the prefix counts as a writer, so it can never over-admit. */
export function decodeReadWrite(value: string, lease: string): ReadWriteValue {
  const v = parse(value);
  if (
    v &&
    typeof v.owner === 'string' &&
    v.owner !== '' &&
    (v.mode === 'read' || v.mode === 'write') &&
    count(v.read) &&
    count(v.write)
  ) {
    return {
      owner: v.owner,
      mode: v.mode,
      read: v.read,
      write: v.write,
      queued: v.queued === true,
      foreign: false,
    };
  }
  return {
    owner: foreignOwner(lease),
    mode: 'write',
    read: 0,
    write: 1,
    queued: false,
    foreign: true,
  };
}
