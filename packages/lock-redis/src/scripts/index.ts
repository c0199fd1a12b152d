import type { RedisClientLike } from '../client-types.js';
import { ACQUIRE_COMMAND, ACQUIRE_LUA } from './acquire.js';
import { EXTEND_COMMAND, EXTEND_LUA } from './extend.js';
import { FORCE_RELEASE_COMMAND, FORCE_RELEASE_LUA } from './force-release.js';
import { HAND_OVER_COMMAND, HAND_OVER_LUA } from './hand-over.js';
import { INSPECT_COMMAND, INSPECT_LUA } from './inspect.js';
import { PURGE_COMMAND, PURGE_LUA } from './purge.js';
import { RELEASE_COMMAND, RELEASE_LUA } from './release.js';
import { SHARED_ABANDON_COMMAND, SHARED_ABANDON_LUA } from './shared-abandon.js';
import { SHARED_ACQUIRE_COMMAND, SHARED_ACQUIRE_LUA } from './shared-acquire.js';
import { SHARED_EXTEND_COMMAND, SHARED_EXTEND_LUA } from './shared-extend.js';
import { SHARED_FORCE_RELEASE_COMMAND, SHARED_FORCE_RELEASE_LUA } from './shared-force-release.js';
import { SHARED_INSPECT_COMMAND, SHARED_INSPECT_LUA } from './shared-inspect.js';
import { SHARED_RELEASE_COMMAND, SHARED_RELEASE_LUA } from './shared-release.js';

/**
 * Command names registered on the client with `defineCommand` (each script's file names its own,
 * beside its Lua and the decoder of its reply): ioredis then runs each script by
 * EVALSHA and falls back to EVAL on NOSCRIPT (after a restart or failover flushed the script
 * cache), also inside pipelines. The names are versioned so that two copies of this package with
 * different scripts sharing one client never overwrite each other's definitions.
 *
 * Key order: lock, fencing counter, waiter flag (inspect takes only the first two). The `shared*`
 * scripts (semaphores and read-write locks) take the five keys of `sharedScriptKeys`.
 */
export const COMMANDS = {
  acquire: ACQUIRE_COMMAND,
  release: RELEASE_COMMAND,
  extend: EXTEND_COMMAND,
  inspect: INSPECT_COMMAND,
  forceRelease: FORCE_RELEASE_COMMAND,
  purge: PURGE_COMMAND,
  sharedAcquire: SHARED_ACQUIRE_COMMAND,
  sharedRelease: SHARED_RELEASE_COMMAND,
  sharedExtend: SHARED_EXTEND_COMMAND,
  sharedAbandon: SHARED_ABANDON_COMMAND,
  sharedInspect: SHARED_INSPECT_COMMAND,
  sharedForceRelease: SHARED_FORCE_RELEASE_COMMAND,
  handOver: HAND_OVER_COMMAND,
} as const;

/** The Lua of each shared script by command name, for packages that register them elsewhere. */
export const SHARED_SCRIPTS = {
  [SHARED_ACQUIRE_COMMAND]: SHARED_ACQUIRE_LUA,
  [SHARED_RELEASE_COMMAND]: SHARED_RELEASE_LUA,
  [SHARED_EXTEND_COMMAND]: SHARED_EXTEND_LUA,
  [SHARED_ABANDON_COMMAND]: SHARED_ABANDON_LUA,
  [SHARED_INSPECT_COMMAND]: SHARED_INSPECT_LUA,
  [SHARED_FORCE_RELEASE_COMMAND]: SHARED_FORCE_RELEASE_LUA,
} as const;

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

/** The script commands as callable methods (they exist once `defineScripts` ran). */
export type ScriptCommands = Record<(typeof COMMANDS)[keyof typeof COMMANDS], ScriptCall>;

const defined = new WeakSet<object>();

/** Registers the scripts on `client` once. */
export function defineScripts(client: RedisClientLike): ScriptCommands {
  if (!defined.has(client)) {
    client.defineCommand(COMMANDS.acquire, { numberOfKeys: 3, lua: ACQUIRE_LUA });
    client.defineCommand(COMMANDS.release, { numberOfKeys: 3, lua: RELEASE_LUA });
    client.defineCommand(COMMANDS.extend, { numberOfKeys: 3, lua: EXTEND_LUA });
    client.defineCommand(COMMANDS.inspect, { numberOfKeys: 2, lua: INSPECT_LUA });
    client.defineCommand(COMMANDS.forceRelease, { numberOfKeys: 3, lua: FORCE_RELEASE_LUA });
    client.defineCommand(COMMANDS.purge, { numberOfKeys: 3, lua: PURGE_LUA });
    for (const [name, lua] of Object.entries(SHARED_SCRIPTS)) {
      client.defineCommand(name, { numberOfKeys: 5, lua });
    }
    client.defineCommand(COMMANDS.handOver, { numberOfKeys: 3, lua: HAND_OVER_LUA });
    defined.add(client);
  }
  return client as unknown as ScriptCommands;
}
