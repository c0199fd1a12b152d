/**
 * Lua that defines `announce()`, the election scripts' notice on the election's channel: every
 * grant, value change and resignation publishes, since anyone observing the election (not only
 * refused candidates, as with the mutex's waiter flag) wants to hear of it. Needs ARGV[1] the
 * channel and ARGV[2] '1' for SPUBLISH where the server has it (see release.ts).
 */
export const ELECTION_ANNOUNCE_LUA = `
local function announce()
  if ARGV[2] == '1' and redis.REDIS_VERSION_NUM then
    redis.call('SPUBLISH', ARGV[1], 'changed')
  else
    redis.call('PUBLISH', ARGV[1], 'changed')
  end
end
`;
