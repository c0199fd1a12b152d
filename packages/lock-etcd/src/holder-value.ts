/**
 * What a contender key stores: the owner token and its hold count, as JSON so an operator reading
 * etcd sees who holds what. Keys written by other Mutex users (`etcdctl lock` stores an empty
 * value) decode as a foreign holder whose owner matches no dlock owner token.
 */
import { leaseHex } from './keys.js';

export interface HolderValue {
  readonly owner: string;
  readonly count: number;
  /** Written by another etcd Mutex user, not by dlock: never matches an owner token. */
  readonly foreign: boolean;
}

export function encodeHolder(owner: string, count: number): string {
  return JSON.stringify({ owner, count });
}

export function decodeHolder(value: string, lease: string): HolderValue {
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === 'object' && parsed !== null) {
      const { owner, count } = parsed as { owner?: unknown; count?: unknown };
      if (typeof owner === 'string' && owner !== '' && Number.isSafeInteger(count)) {
        if ((count as number) >= 1) return { owner, count: count as number, foreign: false };
      }
    }
  } catch {
    // not ours
  }
  return { owner: `etcd-lease:${lease === '0' ? '0' : leaseHex(lease)}`, count: 1, foreign: true };
}

/** Whether the stored holder is `owner` (never true for a foreign holder). */
export function heldBy(holder: HolderValue, owner: string): boolean {
  return !holder.foreign && holder.owner === owner;
}
