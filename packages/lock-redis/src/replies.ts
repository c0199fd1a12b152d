import type { AcquireResult, ReleaseResult } from '@dlock/lock-core/spi';

const RELEASE_RESULTS: Record<number, ReleaseResult> = {
  0: 'not-held',
  1: 'decremented',
  2: 'released',
};

/** Lua reply of the acquire script: [0, pttl] or [1|2, token, ttl]. */
type AcquireReply = [number, string | number, number?];
/** Lua reply of the inspect script. */
type InspectReply = [string, string, number, string] | null;

/** Decodes the acquire script's reply (see scripts/acquire.ts). */
export function decodeAcquireReply(reply: unknown): AcquireResult {
  const [status, second, third] = reply as AcquireReply;
  if (status === 0) {
    const pttl = Number(second);
    return { acquired: false, retryAfterMs: pttl >= 0 ? pttl : undefined };
  }
  return {
    acquired: true,
    fencingToken: BigInt(second),
    reentered: status === 2,
    ttlMs: Number(third),
  };
}

/** Decodes the release script's reply (see scripts/release.ts). */
export function decodeReleaseReply(reply: unknown): ReleaseResult {
  return RELEASE_RESULTS[Number(reply)] ?? 'not-held';
}

/** The inspect script's reply: `null` when free (see scripts/inspect.ts). */
export interface InspectedHold {
  readonly owner: string;
  readonly count: number;
  /** Remaining TTL in ms; `Infinity` when the hash has no expiry. */
  readonly ttlMs: number;
  readonly fencingToken: bigint;
}

/** Decodes the inspect script's reply. */
export function decodeInspectReply(reply: unknown): InspectedHold | null {
  const decoded = reply as InspectReply;
  if (!decoded) return null;
  const [owner, count, pttl, token] = decoded;
  return {
    owner,
    count: Number(count),
    ttlMs: pttl >= 0 ? pttl : Number.POSITIVE_INFINITY,
    fencingToken: BigInt(token),
  };
}
