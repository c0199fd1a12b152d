import type { ListedState, ListPage, ListRequest } from '../backend.js';
import type { MemoryStore } from './memory-store.js';

/**
 * One page of the memory backend's held keys under a prefix, in key order; the cursor is the
 * last key returned (the next page starts after it). Runs synchronously, so every entry of the
 * page is read at one instant.
 */
export function listMemory(store: MemoryStore, request: ListRequest): ListPage {
  const { prefix, limit, cursor } = request;
  const candidates: string[] = [];
  for (const key of store.keys()) {
    if (key.startsWith(prefix) && (cursor === undefined || key > cursor)) candidates.push(key);
  }
  candidates.sort();
  const locks: ListedState[] = [];
  const now = store.clock.now();
  let last: string | undefined;
  let index = 0;
  for (; index < candidates.length && locks.length < limit; index++) {
    const key = candidates[index]!;
    last = key;
    const entry = store.get(key);
    if (!entry) continue;
    const { owner, count, fencingToken } = entry;
    locks.push({ key, owner, count, fencingToken, ttlMs: entry.expiresAt - now });
  }
  return { locks, cursor: index < candidates.length ? last : undefined };
}
