/**
 * Building blocks shared with sibling packages (`@dlock/redlock`), so that they reuse this
 * adapter's Lua scripts, key layout, fail-fast command runner and release subscriber instead of
 * carrying a second copy.
 *
 * NOT covered by semver: anything exported here may change or disappear in any release, including
 * patch releases. Import `@dlock/lock-redis` instead unless you are another `@dlock` package
 * pinned to a matching version.
 *
 * @packageDocumentation
 */
export type {
  ErrorListener,
  RedisClientLike,
  RedisStandaloneLike,
} from './client-types.js';
export { CommandRunner, RedisCommandTimeoutError } from './command-runner.js';
export { type ElectionKeys, electionKeys } from './election/election-keys.js';
export { byGrantOrder } from './grant-order.js';
export { keyOfLockName, lockPattern } from './list.js';
export { type LockKeys, lockKeys } from './redis-backend.js';
export { ReleaseSubscriber } from './release-subscriber.js';
export { decodeAcquireReply } from './scripts/acquire.js';
export {
  COMMANDS,
  defineScripts,
  type ScriptCommands,
  SHARED_SCRIPTS,
} from './scripts/index.js';
export { decodeInspectReply, type InspectedHold } from './scripts/inspect.js';
export { decodeReleaseReply } from './scripts/release.js';
export { SHARED_PRELUDE } from './scripts/shared-prelude.js';
export {
  decodeSharedAcquireReply,
  decodeSharedInspectReply,
  decodeSharedReleaseReply,
  KIND_LETTER,
} from './scripts/shared-replies.js';
export { createSharedBackend, type SharedBackendContext } from './shared-backend.js';
export {
  type SharedFamily,
  type SharedKeys,
  sharedKeys,
  sharedScriptKeys,
} from './shared-keys.js';
