import { IdGenArgumentError } from './errors.js';
import { HEX } from './uuid-hex.js';
import { describe } from './validate.js';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NIL = '00000000-0000-0000-0000-000000000000';
const MAX = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/**
 * True for an RFC 9562 UUID string (any case): versions 1-8 with the RFC variant (10xx), or the
 * Nil and Max UUIDs. Pass `version` to also require that version.
 */
export function isUuid(value: unknown, version?: number): value is string {
  if (typeof value !== 'string' || !UUID_PATTERN.test(value)) return false;
  const lower = value.toLowerCase();
  if (lower === NIL || lower === MAX) return version === undefined;
  const v = Number.parseInt(lower[14]!, 16);
  const variant = Number.parseInt(lower[19]!, 16);
  if (v < 1 || v > 8 || (variant & 0xc) !== 0x8) return false;
  return version === undefined || v === version;
}

/** The version nibble of a valid UUID string; throws `IdGenArgumentError` if it is not one. */
export function uuidVersion(uuid: string): number {
  assertUuid(uuid);
  return Number.parseInt(uuid[14]!, 16);
}

/** The 16 bytes of a UUID string. */
export function parseUuid(uuid: string): Uint8Array {
  assertUuid(uuid);
  const hex = uuid.replaceAll('-', '');
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** The canonical lowercase string of 16 UUID bytes. */
export function stringifyUuid(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 16) {
    throw new IdGenArgumentError('a UUID is exactly 16 bytes');
  }
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[bytes[i]!]!;
  }
  return out;
}

/** The creation time carried in a version 7 UUID (millisecond precision). */
export function uuidv7ToDate(uuid: string): Date {
  if (!isUuid(uuid, 7)) {
    throw new IdGenArgumentError(`not a version 7 UUID: ${describe(uuid)}`);
  }
  return new Date(Number.parseInt(uuid.slice(0, 8) + uuid.slice(9, 13), 16));
}

function assertUuid(uuid: unknown): asserts uuid is string {
  if (!isUuid(uuid)) throw new IdGenArgumentError(`not a valid UUID: ${describe(uuid)}`);
}
