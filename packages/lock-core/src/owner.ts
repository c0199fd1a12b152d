import { randomFillSync } from 'node:crypto';
import { hostname } from 'node:os';

/**
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
