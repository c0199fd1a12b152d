import type { AcquireResult } from '@dlock/lock-core';
import { FRESH_TOKEN_LUA } from './acquire.js';

/** The command the script runs under (registered with a variable key count: see acquire-many.ts). */
export const ACQUIRE_MANY_COMMAND = 'dlockAcquireManyV1';

/**
 * All-or-nothing acquire of several mutex keys in one slot, each by the single acquire script's
 * rules (acquire.ts): a free key is granted with a fresh fencing token, a key its owner holds is
 * re-entered (count plus one, expiry raised to at least its ttl, same token), any other is
 * refused.
 *
 * KEYS: per request its lock, fencing counter and waiter flag (3 each, in request order).
 * ARGV[1] fencing-counter retention in ms (0: keep forever), then per request its owner and ttl
 * in ms (ARGV[2i], ARGV[2i + 1]).
 *
 * Two passes. The first only reads: which keys are free, which are the caller's (and in which of
 * the lock's two shapes), which are refused. If any is refused, only the refused keys are written,
 * their waiter flags set as a refused single acquire sets them (so their releases are announced
 * to this caller's watch); the free keys are left untouched, never taken and given back. Else the
 * second pass grants every key.
 *
 * Returns {1, s1, token1, ttl1, s2, ...} when every key was granted (s: 1 fresh grant, 2
 * re-entry, as the single script's status) and {0, i, pttl, j, pttl, ...} listing the refused
 * requests' 1-based indexes and their holders' remaining TTLs.
 */
export const ACQUIRE_MANY_LUA = `
local retention = tonumber(ARGV[1])
if redis.replicate_commands then redis.replicate_commands() end
local n = #KEYS / 3
local shapes, refused = {}, {}
for i = 1, n do
  local lock, owner = KEYS[3 * i - 2], ARGV[2 * i]
  local held = redis.pcall('GET', lock)
  if not held then
    shapes[i] = 'free'
  elseif held == owner then
    shapes[i] = 'string'
  elseif type(held) == 'table' and redis.call('HEXISTS', lock, owner) == 1 then
    shapes[i] = 'hash'
  else
    refused[#refused + 1] = i
  end
end
if #refused > 0 then
  local reply = {0}
  for j = 1, #refused do
    local i = refused[j]
    local lock, wait = KEYS[3 * i - 2], KEYS[3 * i]
    local pttl = redis.call('PTTL', lock)
    if pttl > 0 then
      redis.call('SET', wait, '1', 'PX', pttl)
    else
      redis.call('SET', wait, '1')
    end
    reply[#reply + 1] = i
    reply[#reply + 1] = pttl
  end
  return reply
end
local reply = {1}
for i = 1, n do
  local lock, fence, wait = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local owner, ttl = ARGV[2 * i], tonumber(ARGV[2 * i + 1])
  if shapes[i] == 'free' then
    redis.call('SET', lock, owner, 'PX', ttl)
${FRESH_TOKEN_LUA}    reply[#reply + 1] = 1
    reply[#reply + 1] = token
    reply[#reply + 1] = ttl
  else
    if shapes[i] == 'string' then
      local pttl = redis.call('PTTL', lock)
      redis.call('DEL', lock)
      redis.call('HSET', lock, owner, 1)
      if pttl > 0 then redis.call('PEXPIRE', lock, pttl) end
    end
    redis.call('HINCRBY', lock, owner, 1)
    local pttl = redis.call('PTTL', lock)
    if pttl < ttl then
      redis.call('PEXPIRE', lock, ttl)
      redis.call('PEXPIRE', wait, ttl)
      pttl = ttl
    end
    if retention > 0 then redis.call('PEXPIRE', fence, pttl + retention) end
    reply[#reply + 1] = 2
    reply[#reply + 1] = redis.call('GET', fence) or '0'
    reply[#reply + 1] = pttl
  end
end
return reply
`;

/**
 * Decodes the script's reply for `count` requests. A refusal answers every request refused: the
 * held ones with their holder's remaining TTL, the free ones without one (nothing to wait for).
 */
export function decodeAcquireManyReply(reply: unknown, count: number): AcquireResult[] {
  const [status, ...rest] = reply as [number, ...Array<string | number>];
  const results: AcquireResult[] = [];
  if (Number(status) === 1) {
    for (let i = 0; i < count; i++) {
      results.push({
        acquired: true,
        reentered: Number(rest[3 * i]) === 2,
        fencingToken: BigInt(rest[3 * i + 1]!),
        ttlMs: Number(rest[3 * i + 2]),
      });
    }
    return results;
  }
  for (let i = 0; i < count; i++) results.push({ acquired: false });
  for (let j = 0; j < rest.length; j += 2) {
    const pttl = Number(rest[j + 1]);
    results[Number(rest[j]) - 1] = { acquired: false, retryAfterMs: pttl >= 0 ? pttl : undefined };
  }
  return results;
}
