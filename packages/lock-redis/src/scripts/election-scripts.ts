import type { RedisClientLike } from '../client-types.js';
import { ELECTION_ABANDON_COMMAND, ELECTION_ABANDON_LUA } from './election-abandon.js';
import { ELECTION_CAMPAIGN_COMMAND, ELECTION_CAMPAIGN_LUA } from './election-campaign.js';
import { ELECTION_EXTEND_COMMAND, ELECTION_EXTEND_LUA } from './election-extend.js';
import { ELECTION_LEADER_COMMAND, ELECTION_LEADER_LUA } from './election-leader.js';
import { ELECTION_PROCLAIM_COMMAND, ELECTION_PROCLAIM_LUA } from './election-proclaim.js';
import { ELECTION_RESIGN_COMMAND, ELECTION_RESIGN_LUA } from './election-resign.js';

/** Each election script's Lua and key count, by command name (versioned, as `COMMANDS`). */
const ELECTION_SCRIPTS = {
  [ELECTION_CAMPAIGN_COMMAND]: { numberOfKeys: 4, lua: ELECTION_CAMPAIGN_LUA },
  [ELECTION_EXTEND_COMMAND]: { numberOfKeys: 2, lua: ELECTION_EXTEND_LUA },
  [ELECTION_PROCLAIM_COMMAND]: { numberOfKeys: 1, lua: ELECTION_PROCLAIM_LUA },
  [ELECTION_RESIGN_COMMAND]: { numberOfKeys: 1, lua: ELECTION_RESIGN_LUA },
  [ELECTION_LEADER_COMMAND]: { numberOfKeys: 1, lua: ELECTION_LEADER_LUA },
  [ELECTION_ABANDON_COMMAND]: { numberOfKeys: 3, lua: ELECTION_ABANDON_LUA },
} as const;

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

/** The election script commands as callable methods. */
export type ElectionScriptCommands = Record<keyof typeof ELECTION_SCRIPTS, ScriptCall>;

const defined = new WeakSet<object>();

/**
 * Registers the election scripts on `client` once (apart from `defineScripts`, so the mutex's
 * and the shared keys' registrations stay as they are; ioredis runs each by EVALSHA with an EVAL
 * fallback, as theirs).
 */
export function defineElectionScripts(client: RedisClientLike): ElectionScriptCommands {
  if (!defined.has(client)) {
    for (const [name, definition] of Object.entries(ELECTION_SCRIPTS)) {
      client.defineCommand(name, definition);
    }
    defined.add(client);
  }
  return client as unknown as ElectionScriptCommands;
}
