import {
  type AcquireRequest,
  type AcquireResult,
  type HandOverResult,
  monotonicNow,
  type OwnerRef,
  reported,
} from '@dlock/lock-core/spi';
import type { RedisClientLike } from '../client-types.js';
import type { CommandRunner } from '../command-runner.js';
import type { LockKeys } from '../redis-backend.js';
import type { ReleaseSubscriber } from '../release-subscriber.js';
import { decodeAcquireReply } from '../scripts/acquire.js';
import { decodeHandOverReply } from '../scripts/hand-over.js';
import { decodeReleaseReply } from '../scripts/release.js';
import { fairKeys } from './fair-keys.js';
import { defineFairScripts } from './fair-scripts.js';
import { FairWatches } from './fair-watches.js';
import { QueuedOwners } from './queued-owners.js';

/** What the fair operations borrow from the backend that owns them. */
export interface FairLockContext {
  readonly client: RedisClientLike;
  readonly runner: CommandRunner;
  /** The lock's names (the backend's `lockKeys` under its prefix). */
  readonly keysOf: (key: string) => LockKeys;
  readonly subscriber: ReleaseSubscriber;
  /** '1' to publish with SPUBLISH (see release.ts). */
  readonly publishSharded: string;
  /** Fencing-counter retention in ms, 0 for forever (as the scripts take it). */
  readonly retention: number;
}

/**
 * The lock operations of `fair: true`: the same lock as the mutex's, granted in the order of a
 * server-side queue (fair/fair-prelude.ts). Renewal, inspect, list, purge and force-release stay
 * the mutex's. The backend calls these instead of its own scripts and keeps everything else.
 */
export function createFairLock(context: FairLockContext) {
  const { client, runner, keysOf, subscriber, publishSharded, retention } = context;
  const scripts = defineFairScripts(client);
  const queued = new QueuedOwners();
  const watches = new FairWatches(subscriber, queued);
  /** KEYS then the ARGV every fair script starts with. */
  const head = (key: string): Array<string | number> => {
    const k = keysOf(key);
    const q = fairKeys(k.lock, key);
    return [k.lock, k.fence, q.queue, q.leases, q.tickets, retention, k.channel, publishSharded];
  };
  /** Keeps `queued` in step with what the server did with `request`, sent at `start`. */
  const track = (request: AcquireRequest, result: AcquireResult, waits: boolean, start: number) => {
    if (result.acquired) queued.delete(request.key, request.owner);
    else if (waits) {
      const retry = result.retryAfterMs ?? 0;
      queued.add(request.key, request.owner, start, request.ttlMs, retry);
    }
    return result;
  };
  const acquire = (request: AcquireRequest, waits: boolean) =>
    runner.run('acquire', request.key, () =>
      scripts.dlockFairAcquireV1(
        ...head(request.key),
        request.owner,
        request.ttlMs,
        waits ? '1' : '0',
      ),
    );

  return {
    async tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
      const waits = request.queue === true;
      const passed = queued.takeGrant(request.key, request.owner);
      if (passed) {
        // A release passed the lock to this waiter and said so (with the token): it holds it
        // now, for as long as the server surely keeps the grant (see QueuedOwners), and saves
        // the round trip of asking on the hand-off's path. The claim (leave the queue, take the
        // full TTL) is sent now, so the server has it before anything this holder sends next;
        // were it refused (an operator's forceRelease), the first renewal reports the loss.
        acquire(request, false).catch(reported('fair acquire: claim a passed grant', request.key));
        return {
          acquired: true,
          fencingToken: passed.token,
          reentered: false,
          ttlMs: Math.min(passed.ttlMs, request.ttlMs),
        };
      }
      const known = waits
        ? queued.stillRefused(request.key, request.owner, watches.heardSince(request.key))
        : undefined;
      if (known !== undefined) return { acquired: false, retryAfterMs: known };
      const start = monotonicNow();
      const reply = await acquire(request, waits);
      return track(request, decodeAcquireReply(reply), waits, start);
    },

    async release(request: OwnerRef, operation: string) {
      const reply = await runner.run(operation, request.key, () =>
        scripts.dlockFairReleaseV1(...head(request.key), request.owner),
      );
      return decodeReleaseReply(reply);
    },

    async handOver(from: OwnerRef, to: AcquireRequest): Promise<HandOverResult> {
      const start = monotonicNow();
      const reply = await runner.run('handOver', from.key, () =>
        scripts.dlockFairHandOverV1(
          ...head(from.key),
          from.owner,
          to.owner,
          to.ttlMs,
          to.queue === true ? '1' : '0',
        ),
      );
      const result = decodeHandOverReply(reply);
      track(to, result.next, to.queue === true, start);
      return result;
    },

    async abandon(request: OwnerRef): Promise<boolean> {
      queued.delete(request.key, request.owner);
      const reply = await runner.run('abandon', request.key, () =>
        scripts.dlockFairAbandonV1(...head(request.key), request.owner),
      );
      return Number(reply) === 1;
    },

    /** `key`'s release watch: woken only by what concerns this process (see FairWatches). */
    watch: (key: string, onRelease: () => void) =>
      watches.watch(key, keysOf(key).channel, onRelease),

    close: () => watches.close(),
  };
}
