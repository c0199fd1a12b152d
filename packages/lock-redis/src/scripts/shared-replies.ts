import {
  type AcquireResult,
  LockLimitError,
  LockUpgradeError,
  type ReleaseResult,
} from '@dlock/lock-core';
import type { LeaseKind, LeaseState, SharedState } from '@dlock/lock-core/spi';
import { byGrantOrder } from '../grant-order.js';

/** The one-letter kind the shared scripts take (ARGV[4]) and prefix lease members with. */
export const KIND_LETTER: Record<LeaseKind, string> = { semaphore: 's', read: 'r', write: 'w' };

const KIND_OF_LETTER: Record<string, LeaseKind> = { s: 'semaphore', r: 'read', w: 'write' };

/**
 * Decodes the shared acquire script's reply. A limit mismatch and an upgrade are the caller's
 * mistakes, not "busy": they reject with the typed errors the SPI names.
 */
export function decodeSharedAcquireReply(
  reply: unknown,
  key: string,
  requestedLimit: number,
): AcquireResult {
  const [status, second, third] = reply as [number, string | number | undefined, number?];
  switch (status) {
    case 1:
    case 2:
      return {
        acquired: true,
        fencingToken: BigInt(second as string),
        reentered: status === 2,
        ttlMs: Number(third),
      };
    case 0: {
      const retry = Number(second);
      return { acquired: false, retryAfterMs: retry >= 0 ? retry : undefined };
    }
    case -1:
      throw new LockLimitError(key, Number(second), requestedLimit);
    case -2:
      throw new LockUpgradeError(key);
    default:
      throw new Error(`unexpected shared acquire reply ${JSON.stringify(reply)}`);
  }
}

const RELEASE_RESULTS: Record<number, ReleaseResult> = {
  0: 'not-held',
  1: 'decremented',
  2: 'released',
};

/** Decodes the shared release script's reply. */
export function decodeSharedReleaseReply(reply: unknown): ReleaseResult {
  return RELEASE_RESULTS[Number(reply)] ?? 'not-held';
}

/**
 * Decodes the shared inspect script's reply: `null` when nobody holds or waits. Holders come in
 * grant order as far as the tokens tell it (every semaphore and write grant takes a larger one;
 * reads sharing a token keep the server's deadline order).
 */
export function decodeSharedInspectReply(
  reply: unknown,
  family: 'semaphore' | 'read-write',
  key: string,
): SharedState | null {
  if (!reply) return null;
  const [limit, waiters, flat] = reply as [string, number, string[]];
  const holders: LeaseState[] = [];
  for (let i = 0; i + 4 < flat.length; i += 5) {
    const member = flat[i]!;
    holders.push({
      kind: KIND_OF_LETTER[member[0]!] ?? 'semaphore',
      owner: member.slice(2),
      count: Number(flat[i + 1]),
      permits: Number(flat[i + 2]),
      fencingToken: BigInt(flat[i + 3]!),
      ttlMs: Number(flat[i + 4]),
    });
  }
  holders.sort(byGrantOrder);
  return {
    key,
    limit: family === 'semaphore' && limit !== '' ? Number(limit) : Number.POSITIVE_INFINITY,
    holders,
    waiters: Number(waiters),
  };
}
