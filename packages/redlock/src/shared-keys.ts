import type { LeaseKind, LeaseRef } from '@dlock/lock-core/spi';
import {
  KIND_LETTER,
  type SharedFamily,
  type SharedKeys,
  sharedKeys,
  sharedScriptKeys,
} from '@dlock/lock-redis/internals';
import type { Quorum } from './quorum.js';

/** The family a lease kind lives in (semaphore keys and read-write keys are apart). */
export const familyOf = (kind: LeaseKind): SharedFamily =>
  kind === 'semaphore' ? 'semaphore' : 'read-write';

/** lock-redis's names of one shared key under the quorum's prefix (the same on every node). */
export function sharedKeysOf(q: Quorum, family: SharedFamily, key: string): SharedKeys {
  return sharedKeys(q.prefix, family, key);
}

/**
 * KEYS then the three ARGV every writing shared script starts with: the release channel, `'0'`
 * (each node is a standalone master: classic PUBLISH, as the mutex's release) and the fencing
 * retention.
 */
export function sharedHead(q: Quorum, keys: SharedKeys): Array<string | number> {
  return [...sharedScriptKeys(keys), keys.channel, '0', q.fencingRetentionMs];
}

/**
 * The head of every script call about one lease (release, abandon, extend, acquire): the
 * writing head of its key, then its kind's letter and its owner.
 */
export function leaseHead(q: Quorum, lease: LeaseRef): Array<string | number> {
  const keys = sharedKeysOf(q, familyOf(lease.kind), lease.key);
  return [...sharedHead(q, keys), KIND_LETTER[lease.kind], lease.owner];
}
