import { FRESH_TOKEN_LUA } from './acquire.js';
import { ELECTION_ANNOUNCE_LUA } from './election-announce.js';
import { ELECTION_QUEUE_LUA } from './election-queue.js';

/** The command the script runs under (see `defineElectionScripts`). */
export const ELECTION_CAMPAIGN_COMMAND = 'dlockElectionCampaignV1';

/**
 * Grant, re-enter or refuse leadership, atomically.
 *
 * KEYS[1] leader hash, KEYS[2] fencing counter, KEYS[3] candidate queue, KEYS[4] waiter-lease
 * deadlines (see `ElectionKeys`).
 * ARGV[1] channel, ARGV[2] '1' for SPUBLISH, ARGV[3] owner, ARGV[4] ttl in ms, ARGV[5]
 * fencing-counter retention in ms (0: keep forever), ARGV[6] value, ARGV[7] '1' to queue.
 *
 * No leader hash (none yet, resigned, or expired by its PX) and nobody ahead in the queue (after
 * dropping lapsed candidates; the caller itself at the head counts as nobody): a fresh grant,
 * which takes the caller out of the queue. Its term is a fresh fencing token by the mutex's rule
 * (`FRESH_TOKEN_LUA`: max(counter + 1, server time in µs), stored back as the counter with the
 * lease's expiry plus the retention), so terms only grow, also after the counter was lost.
 * Owner, value, term and count are written together with the expiry, so nobody ever reads a
 * leader without its value. The leader's own owner re-enters: count plus one, expiry raised to
 * at least `ttl`, and the new value proclaimed. Grants and value changes are announced.
 *
 * Refused with ARGV[7]: the caller takes its place at the back of the queue (or keeps it) and
 * its waiter lease is renewed to `ttl`; the reply then asks it back within a third of the lease,
 * so a live candidate renews its place long before it lapses. Dropping lapsed candidates
 * announces, when nobody leads, so that the new head hears it may go.
 *
 * Returns {1, term, ttl} for a fresh grant, {2, term, pttl} for a re-entry and {0, wait} when
 * refused, `wait` being the leader's remaining lease or the head candidate's (as the mutex's
 * acquire script, so `decodeAcquireReply` reads it).
 */
export const ELECTION_CAMPAIGN_LUA = `
local leader, fence, queue, qexp = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local owner, ttl, retention, value = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
if redis.replicate_commands then redis.replicate_commands() end
${ELECTION_ANNOUNCE_LUA}
${ELECTION_QUEUE_LUA}
local dropped = drop_lapsed()
local held = redis.call('HMGET', leader, 'owner', 'value', 'term')
local head = redis.call('ZRANGE', queue, 0, 0)[1]
if not held[1] and (not head or head == owner) then
  if head then
    redis.call('ZREM', queue, owner)
    redis.call('ZREM', qexp, owner)
  end
${FRESH_TOKEN_LUA}  redis.call('HMSET', leader, 'owner', owner, 'value', value, 'term', token, 'count', 1)
  redis.call('PEXPIRE', leader, ttl)
  announce()
  return {1, token, ttl}
end
if held[1] == owner then
  redis.call('HINCRBY', leader, 'count', 1)
  local pttl = redis.call('PTTL', leader)
  if pttl < ttl then
    redis.call('PEXPIRE', leader, ttl)
    pttl = ttl
  end
  if retention > 0 then redis.call('PEXPIRE', fence, pttl + retention) end
  if held[2] ~= value then
    redis.call('HSET', leader, 'value', value)
    announce()
  end
  return {2, held[3], pttl}
end
local wait
if held[1] then
  wait = redis.call('PTTL', leader)
else
  wait = math.max(0, (tonumber(redis.call('ZSCORE', qexp, head)) or now_ms()) - now_ms())
  if dropped then announce() end
end
if ARGV[7] == '1' then
  enqueue(owner, ttl)
  wait = math.min(wait, math.floor(ttl / 3))
end
return {0, wait}
`;
