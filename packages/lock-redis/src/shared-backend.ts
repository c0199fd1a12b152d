import type {
  ExtendResult,
  LeaseAcquireRequest,
  LeaseRef,
  SharedBackend,
  SharedCapabilities,
  WatchHandle,
} from '@dlock/lock-core/spi';
import type { RedisClientLike } from './client-types.js';
import type { CommandRunner } from './command-runner.js';
import { extendBatch } from './extend-batch.js';
import type { ReleaseSubscriber } from './release-subscriber.js';
import type { ScriptCommands } from './scripts/index.js';
import { SHARED_ABANDON_COMMAND } from './scripts/shared-abandon.js';
import { SHARED_ACQUIRE_COMMAND } from './scripts/shared-acquire.js';
import { SHARED_EXTEND_COMMAND } from './scripts/shared-extend.js';
import { SHARED_FORCE_RELEASE_COMMAND } from './scripts/shared-force-release.js';
import { SHARED_INSPECT_COMMAND } from './scripts/shared-inspect.js';
import { SHARED_RELEASE_COMMAND } from './scripts/shared-release.js';
import {
  decodeSharedAcquireReply,
  decodeSharedInspectReply,
  decodeSharedReleaseReply,
  KIND_LETTER,
} from './scripts/shared-replies.js';
import { type SharedFamily, type SharedKeys, sharedKeys, sharedScriptKeys } from './shared-keys.js';

const SHARED_CAPABILITIES: SharedCapabilities = Object.freeze({
  // One server (or one Cluster slot) decides every grant: any limit is safe.
  maxSemaphoreLimit: Number.POSITIVE_INFINITY,
  readWrite: true,
  watch: true,
  nativeWait: false,
  batchExtend: true,
});

/** What the shared operations borrow from the backend that owns them. */
export interface SharedBackendContext {
  readonly client: RedisClientLike;
  readonly prefix: string;
  readonly runner: CommandRunner;
  readonly scripts: ScriptCommands;
  readonly subscriber: ReleaseSubscriber;
  /** '1' to publish with SPUBLISH (see release.ts). */
  readonly publishSharded: string;
  /** Fencing-counter retention in ms, 0 for forever (as the scripts take it). */
  readonly retention: number;
  /** Throws `LockClosedError` once the backend is closed. */
  readonly open: () => void;
}

type LeaseExtend = LeaseRef & { readonly ttlMs: number };

const familyOf = (kind: LeaseRef['kind']): SharedFamily =>
  kind === 'semaphore' ? 'semaphore' : 'read-write';

/**
 * Semaphores and read-write locks on Redis (the SPI's `SharedBackend`): one Lua script per
 * operation over the key's five names in one slot (see `SharedKeys` and `SHARED_PRELUDE`).
 */
export function createSharedBackend(context: SharedBackendContext): SharedBackend {
  const { client, prefix, runner, scripts, subscriber, publishSharded, retention, open } = context;
  const keysOf = (family: SharedFamily, key: string): SharedKeys => sharedKeys(prefix, family, key);
  /** KEYS then the ARGV every writing script starts with. */
  const head = (keys: SharedKeys): Array<string | number> => [
    ...sharedScriptKeys(keys),
    keys.channel,
    publishSharded,
    retention,
  ];
  const extendArgs = ({ key, kind, owner, ttlMs }: LeaseExtend): Array<string | number> => [
    ...head(keysOf(familyOf(kind), key)),
    KIND_LETTER[kind],
    owner,
    ttlMs,
  ];

  async function extend(request: LeaseExtend): Promise<ExtendResult> {
    open();
    const reply = await runner.run('extend', request.key, () =>
      scripts[SHARED_EXTEND_COMMAND](...extendArgs(request)),
    );
    return Number(reply) === 1;
  }

  return {
    capabilities: SHARED_CAPABILITIES,

    async tryAcquire(request: LeaseAcquireRequest) {
      open();
      const keys = keysOf(familyOf(request.kind), request.key);
      const reply = await runner.run('acquire', request.key, () =>
        scripts[SHARED_ACQUIRE_COMMAND](
          ...head(keys),
          KIND_LETTER[request.kind],
          request.owner,
          request.ttlMs,
          request.limit,
          request.permits,
          request.changeLimit ? '1' : '0',
          request.queue ? '1' : '0',
        ),
      );
      return decodeSharedAcquireReply(reply, request.key, request.limit);
    },

    extend,

    async extendMany(requests) {
      open();
      return extendBatch(
        client,
        runner,
        SHARED_EXTEND_COMMAND,
        requests,
        extendArgs,
        (r: LeaseExtend) => extend(r).then((renewed) => renewed === true),
      );
    },

    async release(request: LeaseRef) {
      open();
      const keys = keysOf(familyOf(request.kind), request.key);
      const reply = await runner.run('release', request.key, () =>
        scripts[SHARED_RELEASE_COMMAND](...head(keys), KIND_LETTER[request.kind], request.owner),
      );
      return decodeSharedReleaseReply(reply);
    },

    async abandon(request: LeaseRef) {
      open();
      const keys = keysOf(familyOf(request.kind), request.key);
      const reply = await runner.run('abandon', request.key, () =>
        scripts[SHARED_ABANDON_COMMAND](...head(keys), KIND_LETTER[request.kind], request.owner),
      );
      return Number(reply) === 1;
    },

    async inspect(family, key) {
      open();
      const keys = keysOf(family, key);
      const reply = await runner.run('inspect', key, () =>
        scripts[SHARED_INSPECT_COMMAND](...sharedScriptKeys(keys)),
      );
      return decodeSharedInspectReply(reply, family, key);
    },

    async forceRelease(family, key) {
      open();
      const keys = keysOf(family, key);
      const reply = await runner.run('forceRelease', key, () =>
        scripts[SHARED_FORCE_RELEASE_COMMAND](...head(keys)),
      );
      return Number(reply) === 1;
    },

    watch(family, key, onRelease): Promise<WatchHandle> {
      return subscriber.watch(keysOf(family, key).channel, onRelease);
    },
  };
}
