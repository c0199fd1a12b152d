import { createHash } from 'node:crypto';

/**
 * Keys and owners travel as bytes (Buffers become X'…' literals), so the connection's character
 * set and collation never touch them: 'A' and 'a', 'é' and 'e' stay different locks.
 */
export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'utf8');
}

export function ownerBytes(owner: string): Buffer {
  return Buffer.from(owner, 'utf8');
}

/**
 * `for-update` mode locks a second row per key, separate from the key's state row, so that the
 * state row (owner, expiry, fencing counter) can be committed while the lock row stays locked.
 * Its name is 0xFF followed by the key's bytes: 0xFF never occurs in UTF-8, so it cannot equal
 * any key.
 */
export function mutexRowName(key: string): Buffer {
  const bytes = keyBytes(key);
  const name = Buffer.allocUnsafe(bytes.length + 1);
  name[0] = 0xff;
  bytes.copy(name, 1);
  return name;
}

/** Characters a GET_LOCK name may use verbatim: safe under any case folding and character set. */
const VERBATIM = /^[a-z0-9_.:/-]*$/;
/** MySQL's limit on GET_LOCK names (MariaDB allows 192, the smaller bound serves both). */
const MAX_LOCK_NAME = 64;
/** Hex digits of SHA-256 kept in a hashed name: 192 bits, collision-free in practice. */
const HASH_HEX = 48;

/**
 * The server-side name for `GET_LOCK`. A key of lower-case letters, digits and `_ . : / -` that
 * fits is used as `prefix + key`, readable in `SHOW PROCESSLIST` and
 * `performance_schema.metadata_locks`. Any other key (upper case, other characters, too long) is
 * `prefix + '#' + the first 48 hex digits of SHA-256(UTF-8 key)`. `#` is not in the verbatim set,
 * so the two forms never collide; case-folding servers cannot merge 'A' and 'a' because upper
 * case always goes through the hash.
 */
export function getLockName(key: string, prefix: string): string {
  if (VERBATIM.test(key) && prefix.length + key.length <= MAX_LOCK_NAME) return prefix + key;
  const digest = createHash('sha256').update(key, 'utf8').digest('hex').slice(0, HASH_HEX);
  return `${prefix}#${digest}`;
}

/** Longest prefix that still leaves room for '#' and the hash within 64 characters. */
export const MAX_LOCK_NAME_PREFIX = MAX_LOCK_NAME - 1 - HASH_HEX;
