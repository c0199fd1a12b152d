import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * Which owner a call acts as: a fresh owner token, or the owner of the enclosing `using` scope
 * that holds the key (reentrancy, below).
 *
 * Owner tokens are `${clientId}#${secret}`: the public part lets `inspect()` say who holds a lock,
 * the 128-bit secret is what proves ownership. Random bytes come from a pooled buffer so a token
 * costs no syscall on the hot path.
 */
const SECRET_BYTES = 16;
const POOL_SIZE = SECRET_BYTES * 256;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

export function randomSecret(): string {
  if (offset + SECRET_BYTES > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const secret = pool.toString('base64url', offset, offset + SECRET_BYTES);
  offset += SECRET_BYTES;
  return secret;
}

export function defaultClientId(): string {
  return `${hostname()}:${process.pid}:${randomSecret().slice(0, 6)}`;
}

export function newOwnerToken(clientId: string): string {
  return `${clientId}#${randomSecret()}`;
}

/** The public part of an owner token; an explicit owner chosen by the caller is shown whole. */
export function holderOf(owner: string): string {
  const hash = owner.lastIndexOf('#');
  return hash === -1 ? owner : owner.slice(0, hash);
}

// ---- reentrancy scopes ----

/**
 * Reentrancy scopes. `using` runs its callback inside a frame that records which key it holds as
 * which owner, for which client. A nested acquisition of the same key by the same client anywhere
 * inside that async call chain finds the frame and re-enters as the same owner. Frames are
 * immutable and chained, so sibling tasks started inside a callback share the outer scope's locks
 * (they run on its behalf) but never locks that one of them took later on its own.
 */
export interface ReentryFrame {
  readonly client: object;
  readonly key: string;
  readonly owner: string;
  readonly parent: ReentryFrame | undefined;
}

const storage = new AsyncLocalStorage<ReentryFrame>();

export function findReentryOwner(client: object, key: string): string | undefined {
  for (let frame = storage.getStore(); frame; frame = frame.parent) {
    if (frame.client === client && frame.key === key) return frame.owner;
  }
  return undefined;
}

export function runInFrame<T>(client: object, key: string, owner: string, fn: () => T): T {
  return storage.run({ client, key, owner, parent: storage.getStore() }, fn);
}

/** Runs `fn` as an unrelated task would: outside every reentrancy scope (used by the kit). */
export function outsideReentryScopes<T>(fn: () => T): T {
  return storage.exit(fn);
}
