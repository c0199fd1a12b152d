/** The command the script runs under (see `defineScripts`). */
export const INSPECT_COMMAND = 'dlockInspectV2';

/**
 * Read the holder in one atomic step, so owner, count, TTL and token belong to the same grant.
 *
 * KEYS[1] lock (string or hash: see acquire.ts), KEYS[2] fencing counter.
 *
 * Returns false (nil) when free, else {owner, count, pttl, token}.
 */
export const INSPECT_LUA = `
local lock, fence = KEYS[1], KEYS[2]
local held = redis.pcall('GET', lock)
if not held then return false end
local owner, count = held, '1'
if type(held) == 'table' then
  local fields = redis.call('HGETALL', lock)
  if #fields == 0 then return false end
  owner, count = fields[1], fields[2]
end
return {owner, count, redis.call('PTTL', lock), redis.call('GET', fence) or '0'}
`;

/** The script's reply: `null` when free. */
export interface InspectedHold {
  readonly owner: string;
  readonly count: number;
  /** Remaining TTL in ms; `Infinity` when the hash has no expiry. */
  readonly ttlMs: number;
  readonly fencingToken: bigint;
}

/** Decodes the script's reply. */
export function decodeInspectReply(reply: unknown): InspectedHold | null {
  const decoded = reply as [string, string, number, string] | null;
  if (!decoded) return null;
  const [owner, count, pttl, token] = decoded;
  return {
    owner,
    count: Number(count),
    ttlMs: pttl >= 0 ? pttl : Number.POSITIVE_INFINITY,
    fencingToken: BigInt(token),
  };
}
