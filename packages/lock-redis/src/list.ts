import type { ListedState, ListPage, ListRequest } from '@dlock/lock-core';
import { isClusterClient, type RedisClientLike } from './client-types.js';
import type { CommandRunner } from './command-runner.js';
import { lockKeys } from './redis-backend.js';
import { COMMANDS, type ScriptCommands } from './scripts/index.js';
import { decodeInspectReply } from './scripts/inspect.js';

/** The one command listing needs beyond the adapter's scripts (every ioredis client has it). */
interface ScanLike {
  scan(
    cursor: string,
    match: 'MATCH',
    pattern: string,
    count: 'COUNT',
    n: number,
  ): Promise<[cursor: string, keys: string[]]>;
  readonly options?: { readonly host?: string; readonly port?: number; keyPrefix?: string };
}

export interface ListContext {
  readonly client: RedisClientLike;
  /** The backend's `prefix` option (checked brace-free). */
  readonly prefix: string;
  readonly runner: CommandRunner;
  readonly scripts: ScriptCommands;
}

/** Characters Redis's glob matching treats specially; a backslash makes each literal. */
const GLOB_SPECIAL = /[*?[\]\\]/g;

export function escapeGlob(text: string): string {
  return text.replace(GLOB_SPECIAL, '\\$&');
}

/** Hex digits of the hash tag in every lock name (see keys.ts). */
const TAG_LENGTH = 12;

/**
 * The SCAN pattern of every lock name under `prefix`: `<keyPrefix><prefix>{<12 chars>}:lock:
 * <userPrefix>*`, with every part escaped, so a `*` in the user's prefix matches only a `*`.
 * The ioredis `keyPrefix` is spelled out because ioredis prefixes KEYS but not SCAN patterns.
 */
export function lockPattern(keyPrefix: string, prefix: string, userPrefix: string): string {
  return `${escapeGlob(keyPrefix + prefix)}{${'?'.repeat(TAG_LENGTH)}}:lock:${escapeGlob(userPrefix)}*`;
}

/**
 * The lock key behind a scanned name, or undefined for a name that only looks like one (the tag
 * must be the key's own digest, as `lockKeys` derives it).
 */
export function keyOfLockName(prefix: string, name: string): string | undefined {
  const head = prefix.length + 1 + TAG_LENGTH;
  if (!name.startsWith(`${prefix}{`) || !name.startsWith('}:lock:', head)) return undefined;
  const key = name.slice(head + '}:lock:'.length);
  return key !== '' && lockKeys(prefix, key).lock === name ? key : undefined;
}

/** The nodes to SCAN, in a stable order: the client itself, or every master of a Cluster. */
function scanNodes(client: RedisClientLike): ScanLike[] {
  if (!isClusterClient(client)) return [client as unknown as ScanLike];
  const masters = client.nodes('master') as unknown as ScanLike[];
  const label = (node: ScanLike) => `${node.options?.host ?? ''}:${node.options?.port ?? ''}`;
  return [...masters].sort((a, b) => (label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : 0));
}

/**
 * One page of held locks: one SCAN step (COUNT = the page's limit) on one node, then each
 * candidate's hold read by the inspect script, so owner, count, TTL and token of each key come
 * from one atomic step. The cursor is `<node index>:<SCAN cursor>`; a Cluster is scanned master
 * by master. SCAN's guarantees carry over: a key held for the whole listing is listed (unless
 * the Cluster reshards meanwhile), one that comes or goes meanwhile may or may not be.
 */
export async function listHolds(ctx: ListContext, request: ListRequest): Promise<ListPage> {
  const { client, prefix, runner, scripts } = ctx;
  const keyPrefix = (client as { options?: { keyPrefix?: string } }).options?.keyPrefix ?? '';
  // A Cluster client knows its masters only once it has loaded the slot map: wait for that.
  if (isClusterClient(client) && client.status !== 'ready') {
    await runner.run('list', undefined, () => client.info('server'));
  }
  const nodes = scanNodes(client);
  const [at, scanCursor] = parseCursor(request.cursor);
  const node = nodes[at];
  if (!node) return { locks: [] };
  const pattern = lockPattern(keyPrefix, prefix, request.prefix);
  const [next, names] = await runner.run('list', undefined, () =>
    node.scan(scanCursor, 'MATCH', pattern, 'COUNT', request.limit),
  );
  const keys = new Set<string>();
  for (const name of names) {
    const key = name.startsWith(keyPrefix)
      ? keyOfLockName(prefix, name.slice(keyPrefix.length))
      : undefined;
    if (key?.startsWith(request.prefix)) keys.add(key);
  }
  const holds = await Promise.all(
    [...keys].map(async (key): Promise<ListedState | null> => {
      const k = lockKeys(prefix, key);
      const reply = await runner.run('list', key, () => scripts[COMMANDS.inspect](k.lock, k.fence));
      const hold = decodeInspectReply(reply);
      return hold && { key, ...hold };
    }),
  );
  const cursor = next !== '0' ? `${at}:${next}` : at + 1 < nodes.length ? `${at + 1}:0` : undefined;
  return { locks: holds.filter((hold) => hold !== null), cursor };
}

function parseCursor(cursor: string | undefined): [node: number, scan: string] {
  if (cursor === undefined) return [0, '0'];
  const match = /^(\d+):(\d+)$/.exec(cursor);
  // Only our own cursors come back here (the core passes the previous page's).
  if (!match) throw new Error(`not a redis list cursor: ${cursor}`);
  return [Number(match[1]), match[2]!];
}
