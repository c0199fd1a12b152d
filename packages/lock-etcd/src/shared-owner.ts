/**
 * Operations on a hold that lives on another backend's session: the same explicit `owner` used
 * by several clients or processes re-enters, renews and releases one shared hold. The hold count
 * is in the key's value, updated by compare-and-swap on the mod revision; the key keeps its lease.
 */
import type { AcquireResult, ReleaseResult } from '@dlock/lock-core';
import type { EtcdDriver, StoredKey } from './driver.js';
import { decodeHolder, encodeHolder, heldBy } from './holder-value.js';

/** Compare-and-swap rounds before a hold-count update gives up under concurrent changes. */
export const CAS_ROUNDS = 8;

/** Re-enters the queue's holder if it is `owner`. Its expiry stays with the backend that owns the key. */
export async function reenterShared(
  driver: EtcdDriver,
  queue: string,
  owner: string,
  ttl: number,
): Promise<AcquireResult> {
  for (let round = 0; round < CAS_ROUNDS; round++) {
    const first = await driver.oldest(queue);
    if (!first) return { acquired: false };
    const holder = decodeHolder(first.value, first.lease);
    if (!heldBy(holder, owner)) return { acquired: false };
    const written = await driver.putIfModRevision(
      first.key,
      first.modRevision,
      encodeHolder(owner, holder.count + 1),
    );
    if (written !== undefined) {
      return { acquired: true, fencingToken: first.createRevision, reentered: true, ttlMs: ttl };
    }
  }
  throw new Error(`too many concurrent changes to the hold count of ${queue}`);
}

/** Whether `owner` holds the queue's lock (through any backend). */
export async function holdsShared(
  driver: EtcdDriver,
  queue: string,
  owner: string,
): Promise<StoredKey | undefined> {
  const first = await driver.oldest(queue);
  return first && heldBy(decodeHolder(first.value, first.lease), owner) ? first : undefined;
}

/** Gives up one hold of `first`, a key held by `owner` on any backend's session. */
export async function releaseShared(
  driver: EtcdDriver,
  first: StoredKey,
  owner: string,
): Promise<ReleaseResult> {
  let kv: StoredKey | undefined = first;
  for (let round = 0; round < CAS_ROUNDS && kv; round++) {
    const holder = decodeHolder(kv.value, kv.lease);
    if (!heldBy(holder, owner)) return 'not-held';
    if (holder.count > 1) {
      const written = await driver.putIfModRevision(
        kv.key,
        kv.modRevision,
        encodeHolder(owner, holder.count - 1),
      );
      if (written !== undefined) return 'decremented';
    } else if (await driver.deleteIfModRevision(kv.key, kv.modRevision)) {
      return 'released';
    }
    [kv] = await driver.getMany([kv.key]);
    if (kv && kv.createRevision !== first.createRevision) return 'not-held';
  }
  if (!kv) return 'not-held';
  throw new Error(`too many concurrent changes to ${first.key}`);
}
