import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createUuidv7Generator,
  IdGenArgumentError,
  isUuid,
  parseUuid,
  stringifyUuid,
  uuidVersion,
  uuidv4,
  uuidv7,
  uuidv7ToDate,
} from '../src/index.js';
import { uuidv7WithCounter } from '../src/uuid-v7.js';

const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('uuidv4', () => {
  it('has version 4 and the RFC variant in every value, and no repeats', () => {
    const seen = new Set<string>();
    let shaped = true;
    for (let i = 0; i < 100_000; i++) {
      const u = uuidv4();
      if (!SHAPE.test(u) || u[14] !== '4' || !'89ab'.includes(u[19]!)) shaped = false;
      seen.add(u);
    }
    expect(shaped).toBe(true);
    expect(seen.size).toBe(100_000);
  });

  it('uses every random bit (each of the 122 bits takes both values)', () => {
    let ones = new Uint8Array(16);
    let zeros = new Uint8Array(16);
    for (let i = 0; i < 2000; i++) {
      const bytes = parseUuid(uuidv4());
      ones = ones.map((v, j) => v | bytes[j]!);
      zeros = zeros.map((v, j) => v | (~bytes[j]! & 0xff));
    }
    // Fixed bits: version 0100 in byte 6's high nibble, variant 10 in byte 8's top two bits.
    expect(Array.from(ones)).toEqual([
      ...Array(6).fill(0xff),
      0x4f,
      0xff,
      0xbf,
      ...Array(7).fill(0xff),
    ]);
    expect(Array.from(zeros)).toEqual([
      ...Array(6).fill(0xff),
      0xbf,
      0xff,
      0x7f,
      ...Array(7).fill(0xff),
    ]);
  });
});

describe('uuidv7', () => {
  it('has version 7 and the RFC variant, and is strictly increasing over 1 million values', () => {
    let last = '';
    let ordered = true;
    let shaped = true;
    for (let i = 0; i < 1_000_000; i++) {
      const u = uuidv7();
      if (u <= last) ordered = false;
      if (u[14] !== '7' || !'89ab'.includes(u[19]!) || (i % 1000 === 0 && !SHAPE.test(u)))
        shaped = false;
      last = u;
    }
    expect(ordered).toBe(true);
    expect(shaped).toBe(true);
  });

  it('round-trips its timestamp', () => {
    const before = Date.now();
    const u = uuidv7();
    const after = Date.now();
    const t = uuidv7ToDate(u).getTime();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
    const fixed = createUuidv7Generator({ clock: () => 0x0123456789ab });
    const v = fixed();
    expect(v.startsWith('01234567-89ab-7')).toBe(true);
    expect(uuidv7ToDate(v).getTime()).toBe(0x0123456789ab);
  });

  it('stays monotonic when many are made in one millisecond and when the clock steps back', () => {
    const readings = [1_000, 1_000, 1_000, 400, 400, 999, 1_001, 1_001];
    let i = 0;
    const gen = createUuidv7Generator({
      clock: () => readings[Math.min(i++, readings.length - 1)]!,
    });
    const ids = Array.from({ length: 2_000 }, () => gen());
    for (let k = 1; k < ids.length; k++) expect(ids[k]! > ids[k - 1]!).toBe(true);
    const times = ids.map((u) => uuidv7ToDate(u).getTime());
    expect(times.slice(0, 6)).toEqual([1_000, 1_000, 1_000, 1_000, 1_000, 1_000]);
    expect(times[6]).toBe(1_001);
    expect(Math.max(...times)).toBe(1_001);
  });

  it('moves the timestamp one millisecond ahead when the counter rolls over', () => {
    // A 10-bit counter stands in for the 26-bit one so the rollover comes within 1024 ids. Each
    // millisecond's counter starts at a random value in [0, 511], so one millisecond holds 513 to
    // 1,024 ids: 1,025 ids always roll over once and never twice (1,100 did, about once in 100).
    const gen = uuidv7WithCounter(() => 5_000, 0x3ff);
    const ids = Array.from({ length: 1025 }, () => gen());
    for (let k = 1; k < ids.length; k++) expect(ids[k]! > ids[k - 1]!).toBe(true);
    const times = new Set(ids.map((u) => uuidv7ToDate(u).getTime()));
    expect([...times]).toEqual([5_000, 5_001]);
  });
});

describe('UUID helpers', () => {
  it('validates, parses and formats', () => {
    const u = randomUUID();
    expect(isUuid(u)).toBe(true);
    expect(isUuid(u, 4)).toBe(true);
    expect(isUuid(u, 7)).toBe(false);
    expect(isUuid(u.toUpperCase())).toBe(true);
    expect(isUuid('00000000-0000-0000-0000-000000000000')).toBe(true);
    expect(isUuid('ffffffff-ffff-ffff-ffff-ffffffffffff')).toBe(true);
    expect(isUuid('00000000-0000-0000-0000-000000000000', 4)).toBe(false);
    expect(isUuid('0190a1b2-c3d4-7e5f-c012-3456789abcde')).toBe(false); // variant 110x
    expect(isUuid('0190a1b2-c3d4-9e5f-8012-3456789abcde')).toBe(false); // version 9
    expect(isUuid('not-a-uuid')).toBe(false);
    expect(isUuid(42)).toBe(false);
    expect(stringifyUuid(parseUuid(u))).toBe(u);
    expect(uuidVersion(uuidv7())).toBe(7);
    expect(uuidVersion(uuidv4())).toBe(4);
  });

  it('refuses invalid input with IdGenArgumentError', () => {
    expect(() => parseUuid('xyz')).toThrow(IdGenArgumentError);
    expect(() => uuidVersion('')).toThrow(IdGenArgumentError);
    expect(() => uuidv7ToDate(uuidv4())).toThrow(IdGenArgumentError);
    expect(() => stringifyUuid(new Uint8Array(3))).toThrow(IdGenArgumentError);
    expect(() => createUuidv7Generator({ clock: () => 2 ** 48 })()).toThrow(IdGenArgumentError);
  });
});
