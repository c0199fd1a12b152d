import type {
  AcquireRequest,
  ElectionBackend,
  LockBackend,
  NativeWaitRequest,
  OwnerRef,
} from '../backend.js';
import { SPECIFICATION_VERSION } from '../backend.js';

/**
 * The values candidates campaign with, by owner token. Each campaign is a fresh owner, so the
 * campaign registers its value here for as long as it asks; the view reads it on every attempt
 * (the core's lines pass only lock-shaped requests).
 */
export type CampaignValues = Map<string, string>;

/**
 * A backend that looks like a mutex backend to the core's machinery (lines, leases, watchdog,
 * disposal) but sends every call to the election operations: an acquire is a campaign, a
 * renewal renews the leadership, a release resigns. So campaigns wait, leaders are renewed and
 * `await using` works with no second implementation of any of it, as semaphores do through
 * shared/lease-view.ts. The view owns nothing: `close()` is the parent client's business.
 */
export function electionView(
  parent: LockBackend,
  election: ElectionBackend,
  values: CampaignValues,
): LockBackend {
  const caps = election.capabilities;
  const campaignRequest = (r: AcquireRequest) => {
    const extra = r as AcquireRequest & { readonly waitTimeoutMs?: number };
    const value = values.get(r.owner);
    // Only the election's own campaigns reach the view, each with its value registered.
    if (value === undefined) throw new Error('campaign without a value');
    return {
      key: r.key,
      owner: r.owner,
      ttlMs: r.ttlMs,
      value,
      queue: extra.waitTimeoutMs !== undefined && extra.waitTimeoutMs !== 0,
    };
  };
  const ref = (r: OwnerRef) => ({ key: r.key, owner: r.owner });
  return {
    specificationVersion: SPECIFICATION_VERSION,
    name: parent.name,
    capabilities: {
      watch: caps.watch && election.watch !== undefined,
      nativeWait: caps.nativeWait && election.waitCampaign !== undefined,
      ttlGranularityMs: parent.capabilities.ttlGranularityMs,
      batchExtend: caps.batchExtend && election.extendMany !== undefined,
      // The election operations travel on the backend's own connections, in the same order.
      orderedRequests: parent.capabilities.orderedRequests === true,
    },
    tryAcquire: (r) => {
      try {
        return election.campaign(campaignRequest(r));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    extend: (r) => election.extend({ ...ref(r), ttlMs: r.ttlMs }),
    ...(caps.batchExtend && election.extendMany
      ? {
          extendMany: (requests: readonly AcquireRequest[]) =>
            election.extendMany!(requests.map((r) => ({ ...ref(r), ttlMs: r.ttlMs }))),
        }
      : {}),
    release: (r) => election.resign(ref(r)),
    // The election reads `leader()` itself; a mutex-shaped answer would only mislead.
    inspect: () => Promise.resolve(null),
    ...(caps.watch && election.watch
      ? { watch: (key: string, onChange: () => void) => election.watch!(key, onChange) }
      : {}),
    ...(caps.nativeWait && election.waitCampaign
      ? {
          waitAcquire: (r: NativeWaitRequest) => {
            try {
              return election.waitCampaign!({
                ...campaignRequest(r),
                timeoutMs: r.timeoutMs,
                signal: r.signal,
              });
            } catch (error) {
              return Promise.reject(error);
            }
          },
        }
      : {}),
    close: () => Promise.resolve(),
  };
}
