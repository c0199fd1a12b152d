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
