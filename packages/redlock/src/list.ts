import type { ListedState, ListPage, ListRequest } from '@dlock/lock-core';
import { keyOfLockName, lockPattern } from '@dlock/lock-redis/internals';
import { quorumError } from './errors.js';
import { onAllNodes } from './fan-out.js';
import { inspectEveryNode, majorityHold } from './inspect.js';
import type { RedlockNode } from './node.js';
import type { Quorum } from './quorum.js';

type Scan = [cursor: string, keys: string[]];

function scanOn(node: RedlockNode, cursor: string, pattern: string, count: number) {
  const client = node.client as unknown as {
    scan(c: string, m: 'MATCH', p: string, k: 'COUNT', n: number): Promise<Scan>;
    readonly options?: { readonly keyPrefix?: string };
  };
  return client.scan(cursor, 'MATCH', pattern, 'COUNT', count);
}

/**
 * `list()` over the quorum: what a majority agrees on. The nodes are scanned one after the other
 * (SCAN MATCH with lock-redis's escaped pattern, one step per page), and every key found is
 * inspected on all nodes at once, each node's answer atomic (lock-redis's inspect script); a key
 * is listed when a majority holds it for one owner (as `inspect()` decides). A key held by a
 * majority is on at least one node that answers while at most N nodes are down; it is reported
 * while scanning the first scanned node that has it, so once. A node whose SCAN fails is skipped
 * and remembered in the cursor (`<node>:<scan cursor>:<skipped nodes bitmask>`); when more nodes
 * fail than a majority can spare, the listing fails with `LockBackendError`, since a lock could
 * then live only on nodes nobody scanned.
 */
export async function listOnQuorum(q: Quorum, request: ListRequest): Promise<ListPage> {
  const [at, scanCursor, skipped] = parseCursor(request.cursor);
  const node = q.nodes[at];
  if (!node) return { locks: [] };
  const keyPrefix =
    (node.client as unknown as { options?: { keyPrefix?: string } }).options?.keyPrefix ?? '';
  const pattern = lockPattern(keyPrefix, q.prefix, request.prefix);
  const [scan] = await onAllNodes(
    [node],
    'list',
    undefined,
    (n) => scanOn(n, scanCursor, pattern, request.limit),
    (reply) => reply as Scan,
    q.nodeTimeoutMs,
  );
  const last = at + 1 >= q.nodes.length;
  if (!scan?.ok) {
    const down = skipped | (1 << at);
    if (bits(down) > q.nodes.length - q.size) {
      throw quorumError('list', undefined, 'too many nodes could not be scanned', [scan!]);
    }
    return { locks: [], cursor: last ? undefined : `${at + 1}:0:${down}` };
  }
  const [next, names] = scan.value;
  const keys = new Set<string>();
  for (const name of names) {
    if (!name.startsWith(keyPrefix)) continue;
    const key = keyOfLockName(q.prefix, name.slice(keyPrefix.length));
    if (key?.startsWith(request.prefix)) keys.add(key);
  }
  const locks = await Promise.all(
    [...keys].map(async (key): Promise<ListedState | null> => {
      const outcomes = await inspectEveryNode(q, 'list', key);
      // Already reported while an earlier node was scanned, if one of those has it.
      const earlier = outcomes.some(
        (o) => o.index < at && !(skipped & (1 << o.index)) && o.ok && o.value !== null,
      );
      return earlier ? null : majorityHold(q, key, outcomes);
    }),
  );
  const cursor =
    next !== '0' ? `${at}:${next}:${skipped}` : last ? undefined : `${at + 1}:0:${skipped}`;
  return { locks: locks.filter((lock) => lock !== null), cursor };
}

function bits(mask: number): number {
  let count = 0;
  for (let m = mask; m; m &= m - 1) count++;
  return count;
}

function parseCursor(cursor: string | undefined): [node: number, scan: string, skipped: number] {
  if (cursor === undefined) return [0, '0', 0];
  const match = /^(\d+):(\d+):(\d+)$/.exec(cursor);
  if (!match) throw new Error(`not a redlock list cursor: ${cursor}`);
  return [Number(match[1]), match[2]!, Number(match[3])];
}
