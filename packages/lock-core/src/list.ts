import type { LockBackend } from './backend.js';
import { monotonicNow, toEpoch } from './clock.js';
import { LockArgumentError } from './errors.js';
import { rejectUnknownOptions } from './option-validators.js';
import type { LockInfo } from './types.js';
import { MAX_KEY_BYTES } from './validate.js';

export interface ListOptions {
  /**
   * Most locks to yield; the listing stops asking the backend once it has them. Positive integer
   * or `Infinity`.
   * @default Infinity
   */
  limit?: number;
  /**
   * How many locks to ask the backend for per round trip. A hint: Redis SCAN, for one, may answer
   * with fewer or more. Positive integer of at most 10000.
   * @default 100
   */
  pageSize?: number;
}

/** A held key as `client.list()` yields it. */
export interface ListedLock extends LockInfo {
  /**
   * How many contenders wait for the key, where the server knows (etcd's queue); `undefined`
   * where it cannot tell.
   */
  readonly waiters?: number | undefined;
}

const OPTION_NAMES = new Set(['limit', 'pageSize']);
const MAX_PAGE_SIZE = 10_000;

/** Validated `list()` arguments. */
export interface ListPlan {
  readonly prefix: string;
  readonly limit: number;
  readonly pageSize: number;
}

/** Checks `list()`'s arguments before any I/O. */
export function planList(prefix: unknown, options: unknown): ListPlan {
  if (typeof prefix !== 'string') {
    throw new LockArgumentError(`list() prefix must be a string, got ${typeof prefix}`);
  }
  if (!prefix.isWellFormed()) {
    throw new LockArgumentError(
      'list() prefix must be well-formed Unicode (it has a lone surrogate)',
    );
  }
  if (Buffer.byteLength(prefix, 'utf8') > MAX_KEY_BYTES) {
    throw new LockArgumentError(
      `list() prefix is longer than a key can be (${MAX_KEY_BYTES} bytes)`,
    );
  }
  const o = rejectUnknownOptions('list', options, OPTION_NAMES);
  const limit = o.limit ?? Number.POSITIVE_INFINITY;
  if (
    typeof limit !== 'number' ||
    !(limit === Number.POSITIVE_INFINITY || (Number.isInteger(limit) && limit > 0))
  ) {
    throw new LockArgumentError(
      `list() limit must be a positive integer or Infinity, got ${String(limit)}`,
    );
  }
  const pageSize = o.pageSize ?? 100;
  if (
    typeof pageSize !== 'number' ||
    !Number.isInteger(pageSize) ||
    pageSize < 1 ||
    pageSize > MAX_PAGE_SIZE
  ) {
    throw new LockArgumentError(
      `list() pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${String(pageSize)}`,
    );
  }
  return { prefix, limit, pageSize };
}

/**
 * Pages through `backend.list()`: each key at most once (Redis SCAN may return one twice), at
 * most `limit` of them, expiry converted to epoch milliseconds from the moment each page was
 * asked for (so, like `inspect()`, never later than the server's). `assertOpen` runs before
 * every page, so a client closed mid-listing ends it with `LockClosedError`.
 */
export async function* listLocks(
  backend: LockBackend,
  plan: ListPlan,
  assertOpen: () => void,
): AsyncGenerator<ListedLock, void, undefined> {
  const seen = new Set<string>();
  let cursor: string | undefined;
  do {
    assertOpen();
    const start = monotonicNow();
    const remaining = plan.limit - seen.size;
    const page = await backend.list!({
      prefix: plan.prefix,
      limit: Math.min(plan.pageSize, remaining),
      cursor,
    });
    for (const state of page.locks) {
      if (seen.has(state.key) || !state.key.startsWith(plan.prefix)) continue;
      seen.add(state.key);
      yield {
        key: state.key,
        holder: state.owner, // guardBackend already reduced it to the public part
        count: state.count,
        expiresAt: toEpoch(start + state.ttlMs),
        fencingToken: state.fencingToken,
        waiters: state.waiters,
      };
      if (seen.size >= plan.limit) return;
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
}
