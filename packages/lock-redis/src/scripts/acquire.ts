/**
 * Acquire or re-enter, atomically.
 *
 * KEYS[1] lock hash {owner -> hold count}, KEYS[2] fencing counter (same hash slot).
 * ARGV[1] owner, ARGV[2] ttl in ms, ARGV[3] fencing-counter retention in ms (0: keep forever).
 *
 * Returns {1, token, ttl} for a fresh grant, {2, token, ttl} for a re-entry and {0, pttl} when
 * another owner holds the key. Tokens travel as decimal strings.
 *
 * A fresh token is max(counter + 1, server time in µs since the epoch), stored back as the
 * counter. The time floor is what keeps tokens from going back when the counter is lost (its
 * retention ran out, eviction, a restart without persistence, a failover to a replica that missed
 * the last grant): the next grant then starts above every earlier token, as long as the server's
 * clock did not step back by more than the time since that token was issued. The counter + 1
 * keeps tokens strictly increasing within one microsecond and across a clock step back.
 * `TIME` in a script that writes needs effects replication: the default since Redis 5, switched
 * on explicitly for 3.2 and 4 (Redis 7 keeps `replicate_commands` as a no-op).
 *
 * Lua numbers are doubles: exact below 2^53 (µs since the epoch stay below that until the year
 * 2255), and formatted with %.0f because tostring would print 1.8e+15.
 *
 * The holder's token is simply the counter's current value: only a fresh grant writes it, and no
 * other grant can happen while the lock exists, so re-entry reads it back instead of storing a
 * copy in the hash (which would need a field name no owner string can collide with).
 */
export const ACQUIRE_LUA = `
local lock, fence = KEYS[1], KEYS[2]
local owner, ttl, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', lock) == 0 then
  if redis.replicate_commands then redis.replicate_commands() end
  local now = redis.call('TIME')
  local floor = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local token = (tonumber(redis.call('GET', fence)) or 0) + 1
  if floor > token then token = floor end
  token = string.format('%.0f', token)
  redis.call('HSET', lock, owner, 1)
  redis.call('PEXPIRE', lock, ttl)
  if retention > 0 then
    redis.call('SET', fence, token, 'PX', ttl + retention)
  else
    redis.call('SET', fence, token)
  end
  return {1, token, ttl}
end
if redis.call('HEXISTS', lock, owner) == 1 then
  redis.call('HINCRBY', lock, owner, 1)
  local pttl = redis.call('PTTL', lock)
  if pttl < ttl then
    redis.call('PEXPIRE', lock, ttl)
    pttl = ttl
  end
  if retention > 0 then redis.call('PEXPIRE', fence, pttl + retention) end
  return {2, redis.call('GET', fence) or '0', pttl}
end
return {0, redis.call('PTTL', lock)}
`;
