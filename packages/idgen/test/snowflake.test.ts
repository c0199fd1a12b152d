import { describe, expect, it } from 'vitest';
import {
  ClockMovedBackwardsError,
  createSnowflake,
  IdGenArgumentError,
  IdGenError,
  IdOverflowError,
  SAFE_INTEGER_LAYOUT,
  TWITTER_EPOCH,
  TWITTER_LAYOUT,
  WorkerIdLostError,
} from '../src/index.js';

const EPOCH = Date.UTC(2020, 0, 1);

/**
 * A clock that returns the given readings in order, then repeats the last one. The first
 * reading is taken by createSnowflake itself (to check the epoch).
 */
function scriptedClock(readings: number[]): () => number {
  let i = 0;
  return () => readings[Math.min(i++, readings.length - 1)]!;
}

/** A clock that advances one millisecond every `perMs` readings. */
function steppingClock(start: number, perMs: number): () => number {
  let calls = 0;
  return () => start + Math.floor(calls++ / perMs);
}

describe('createSnowflake', () => {
  it('issues 5 million strictly increasing ids flat out with no duplicate', () => {
    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 3, workerId: 17 });
    let last = -1n;
    let increasing = true;
    const seen = new Set<bigint>();
    for (let i = 0; i < 5_000_000; i++) {
      const id = sf.nextId();
      if (id <= last) increasing = false;
      last = id;
      // Strictly increasing already implies uniqueness; the set double-checks a sample.
      if (i % 5 === 0) seen.add(id);
    }
    expect(increasing).toBe(true);
    expect(seen.size).toBe(1_000_000);
  });

  it("counts from Twitter's epoch (as `dlock id snowflake` does) when none is given", () => {
    expect(TWITTER_EPOCH).toBe(Date.parse('2010-11-04T01:42:54.657Z'));
    const now = Date.UTC(2026, 0, 1);
    const sf = createSnowflake({ datacenterId: 0, workerId: 0, clock: () => now });
    const id = sf.nextId();
    expect(id >> 22n).toBe(BigInt(now - TWITTER_EPOCH));
    expect(sf.decode(id).timestamp).toBe(now);
  });

  it('agrees bit for bit with a hand-written decoder of the Twitter layout', () => {
    const now = EPOCH + 123_456_789;
    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 21, workerId: 9, clock: () => now });
    sf.nextId();
    const id = sf.nextId(); // sequence 1
    // 1 sign bit | 41 bits ms | 5 bits datacenter | 5 bits worker | 12 bits sequence
    expect(id >> 63n).toBe(0n);
    expect(Number(id >> 22n)).toBe(123_456_789);
    expect(Number((id >> 17n) & 0x1fn)).toBe(21);
    expect(Number((id >> 12n) & 0x1fn)).toBe(9);
    expect(Number(id & 0xfffn)).toBe(1);
    expect(id).toBe((123_456_789n << 22n) | (21n << 17n) | (9n << 12n) | 1n);
  });

  it('decode round-trips bigint, string and number forms', () => {
    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 31, workerId: 31 });
    const before = Date.now();
    const id = sf.nextId();
    const decoded = sf.decode(id);
    expect(decoded.datacenterId).toBe(31);
    expect(decoded.workerId).toBe(31);
    expect(decoded.sequence).toBe(0);
    expect(decoded.timestamp).toBeGreaterThanOrEqual(before);
    expect(decoded.timestamp).toBeLessThanOrEqual(Date.now());
    expect(sf.decode(id.toString())).toEqual(decoded);
    const string = sf.nextIdString();
    expect(sf.decode(BigInt(string)).workerId).toBe(31);
  });

  it('offers a 53-bit layout whose ids are exact JS numbers', () => {
    const now = Date.now();
    const sf = createSnowflake({
      epoch: EPOCH,
      datacenterId: 7,
      workerId: 5,
      layout: SAFE_INTEGER_LAYOUT,
      clock: () => now,
    });
    const n = sf.nextIdNumber();
    expect(Number.isSafeInteger(n)).toBe(true);
    expect(sf.decode(n)).toEqual({ timestamp: now, datacenterId: 7, workerId: 5, sequence: 0 });
    const b = sf.nextId();
    expect(b).toBe(BigInt(n) + 1n);
    expect(JSON.parse(JSON.stringify({ id: Number(b) })).id).toBe(Number(b));
    expect(() =>
      createSnowflake({ epoch: EPOCH, datacenterId: 0, workerId: 0 }).nextIdNumber(),
    ).toThrow(IdGenArgumentError);
  });

  it('waits for the next millisecond when the sequence is exhausted', () => {
    const layout = { timestampBits: 41, datacenterBits: 5, workerBits: 5, sequenceBits: 12 };
    // One reading per id: the clock moves on the reading after the 4097th id's, which the spin
    // makes, so the test does not depend on how fast this machine spins (a clock that moved only
    // after thousands of spin readings could outlast the spin's real-time bound on a loaded host).
    const clock = steppingClock(EPOCH + 1000, 4097);
    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 0, workerId: 0, layout, clock });
    const ids = Array.from({ length: 4097 }, () => sf.nextId());
    expect(sf.decode(ids[4095]!)).toMatchObject({ timestamp: EPOCH + 1000, sequence: 4095 });
    expect(sf.decode(ids[4096]!)).toMatchObject({ timestamp: EPOCH + 1001, sequence: 0 });
    expect(new Set(ids).size).toBe(4097);
  });

  it('waits out a clock that moves back by 2 ms', () => {
    const t = EPOCH + 5000;
    const clock = scriptedClock([t, t, t - 2, t - 2, t - 1, t, t + 1]);
    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 0, workerId: 1, clock });
    const a = sf.nextId();
    const b = sf.nextId(); // reads t-2, spins through t-2, t-1 to t: same ms, next sequence
    expect(b).toBe(a + 1n);
    const c = sf.nextId();
    expect(sf.decode(c)).toMatchObject({ timestamp: t + 1, sequence: 0 });
  });

  it('throws ClockMovedBackwardsError when the clock moves back by 10 s', () => {
    const t = EPOCH + 60_000;
    const clock = scriptedClock([t, t, t - 10_000]);
    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 0, workerId: 1, clock });
    sf.nextId();
    let error: unknown;
    try {
      sf.nextId();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ClockMovedBackwardsError);
    expect((error as ClockMovedBackwardsError).code).toBe('IDGEN_CLOCK_BACKWARDS');
    expect((error as ClockMovedBackwardsError).backwardsMs).toBe(10_000);
    expect(IdGenError.isInstance(error)).toBe(true);
  });

  it('does not spin forever on a clock that stays behind within maxBackwardsMs', () => {
    const t = EPOCH + 60_000;
    const clock = scriptedClock([t, t, t - 3]); // then stuck at t-3
    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 0, workerId: 1, clock });
    sf.nextId();
    expect(() => sf.nextId()).toThrow(ClockMovedBackwardsError);
  });

  it("with onClockBackwards 'borrow' keeps issuing from the last timestamp", () => {
    const t = EPOCH + 60_000;
    const layout = { timestampBits: 41, datacenterBits: 5, workerBits: 15, sequenceBits: 2 };
    const clock = scriptedClock([t, t, t - 10_000]);
    const sf = createSnowflake({
      epoch: EPOCH,
      datacenterId: 1,
      workerId: 2,
      layout,
      clock,
      onClockBackwards: 'borrow',
    });
    const ids = Array.from({ length: 10 }, () => sf.nextId());
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
    // 4 ids per ms: t (seq 0-3), then borrowed t+1 (0-3), t+2 (0-1), never the 10 s old time.
    expect(ids.map((id) => sf.decode(id).timestamp - t)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
  });

  it('two generators with different worker ids never collide', () => {
    const now = EPOCH + 42;
    const a = createSnowflake({ epoch: EPOCH, datacenterId: 1, workerId: 1, clock: () => now });
    const b = createSnowflake({ epoch: EPOCH, datacenterId: 1, workerId: 2, clock: () => now });
    const ids = new Set<bigint>();
    for (let i = 0; i < 4096; i++) {
      ids.add(a.nextId());
      ids.add(b.nextId());
    }
    expect(ids.size).toBe(8192);
    const c = createSnowflake({ epoch: EPOCH, datacenterId: 2, workerId: 1, clock: () => now });
    for (let i = 0; i < 4096; i++) ids.add(c.nextId());
    expect(ids.size).toBe(3 * 4096);
  });

  it('stops issuing the moment a leased worker id is lost', () => {
    const controller = new AbortController();
    const lease = { workerId: 4, signal: controller.signal, expiresAt: Date.now() + 60_000 };
    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 0, workerId: lease });
    expect(sf.decode(sf.nextId()).workerId).toBe(4);
    controller.abort(new Error('lost'));
    expect(() => sf.nextId()).toThrow(WorkerIdLostError);
    const expired = {
      workerId: 5,
      signal: new AbortController().signal,
      expiresAt: Date.now() - 1,
    };
    const sf2 = createSnowflake({ epoch: EPOCH, datacenterId: 0, workerId: expired });
    expect(() => sf2.nextIdString()).toThrow(WorkerIdLostError);
  });

  it('throws IdOverflowError when the timestamp no longer fits', () => {
    const layout = { timestampBits: 10, datacenterBits: 0, workerBits: 22, sequenceBits: 21 };
    const clock = scriptedClock([EPOCH + 1000, EPOCH + 1000, EPOCH + 1024]);
    const sf = createSnowflake({ epoch: EPOCH, datacenterId: 0, workerId: 0, layout, clock });
    sf.nextId();
    expect(() => sf.nextId()).toThrow(IdOverflowError);
  });
});

describe('createSnowflake bad input', () => {
  const base = { epoch: EPOCH, datacenterId: 0, workerId: 0 };
  const cases: [string, () => unknown][] = [
    ['negative worker id', () => createSnowflake({ ...base, workerId: -1 })],
    ['oversized worker id', () => createSnowflake({ ...base, workerId: 32 })],
    ['fractional worker id', () => createSnowflake({ ...base, workerId: 1.5 })],
    ['oversized datacenter id', () => createSnowflake({ ...base, datacenterId: 32 })],
    ['negative datacenter id', () => createSnowflake({ ...base, datacenterId: -3 })],
    ['epoch in the future', () => createSnowflake({ ...base, epoch: Date.now() + 60_000 })],
    ['epoch not a number', () => createSnowflake({ ...base, epoch: 'x' as unknown as number })],
    [
      'epoch too old for the bits',
      () =>
        createSnowflake({
          ...base,
          epoch: 0,
          layout: { ...TWITTER_LAYOUT, timestampBits: 31, workerBits: 15 },
        }),
    ],
    [
      'layout not summing to 63',
      () => createSnowflake({ ...base, layout: { ...TWITTER_LAYOUT, sequenceBits: 13 } }),
    ],
    [
      'layout with zero sequence bits',
      () =>
        createSnowflake({
          ...base,
          layout: { ...TWITTER_LAYOUT, sequenceBits: 0, workerBits: 17 },
        }),
    ],
    [
      'unknown backwards policy',
      () => createSnowflake({ ...base, onClockBackwards: 'ignore' as 'wait' }),
    ],
    ['negative maxBackwardsMs', () => createSnowflake({ ...base, maxBackwardsMs: -1 })],
    [
      'lease without a signal',
      () => createSnowflake({ ...base, workerId: { workerId: 1 } as unknown as number }),
    ],
  ];
  it.each(cases)('%s -> IdGenArgumentError', (_name, make) => {
    let error: unknown;
    try {
      make();
    } catch (e) {
      error = e;
    }
    expect(IdGenArgumentError.isInstance(error)).toBe(true);
    expect((error as IdGenArgumentError).code).toBe('IDGEN_ARGUMENT');
    expect((error as Error).message.length).toBeGreaterThan(10);
  });

  it('decode refuses ids out of range and lossy numbers', () => {
    const sf = createSnowflake(base);
    expect(() => sf.decode(-1n)).toThrow(IdGenArgumentError);
    expect(() => sf.decode(1n << 63n)).toThrow(IdGenArgumentError);
    expect(() => sf.decode(2 ** 60)).toThrow(/lost precision/);
    expect(() => sf.decode('12a')).toThrow(IdGenArgumentError);
    expect(() => sf.decode(1.5)).toThrow(IdGenArgumentError);
    const safe = createSnowflake({ ...base, layout: SAFE_INTEGER_LAYOUT });
    expect(() => safe.decode(2n ** 53n)).toThrow(IdGenArgumentError);
  });
});
