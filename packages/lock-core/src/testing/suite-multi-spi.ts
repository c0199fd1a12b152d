import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AcquireRequest, AcquireResult, LockBackend } from '../backend.js';

/** What the SPI suite lends these tests. */
export interface ManySpiContext {
  test(name: string, fn: () => Promise<void>): void;
  backend(): Promise<LockBackend>;
  /** A run-unique name for this suite's keys. */
  readonly run: string;
  /** Keys that look like code to some server (the SPI suite's). */
  readonly codeKeys: readonly string[];
}

const newOwner = () => randomBytes(16).toString('hex');
const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * `tryAcquireMany` (optional): all or nothing, the refused keys reported, the free ones left
 * untouched, a token per key as `tryAcquire` gives, re-entry per key. Skipped where absent.
 */
export function manySpiTests({ test, backend, run, codeKeys }: ManySpiContext): void {
  let counter = 0;
  /**
   * `n` distinct keys one call may carry, in canonical order: the core never sends keys of two
   * `manyGroup` groups in one call, so on a grouped backend they are searched for among
   * candidates until `n` share the first one's group (lock-redis puts a digest of each whole
   * key in its Cluster hash tag, so users' own tags never co-locate keys: about one candidate
   * in 16,384 matches, hence at most 4 keys there).
   */
  const keys = (b: LockBackend, label: string, n: number): string[] => {
    const base = `dlock-spi-many-${run}-${++counter}:${label}`;
    if (!b.manyGroup) return Array.from({ length: n }, (_, i) => `${base}:${i}`).sort(byUtf8);
    const group = b.manyGroup(`${base}:0`);
    const set: string[] = [];
    for (let i = 0; set.length < Math.min(n, 4); i++) {
      if (b.manyGroup(`${base}:${i}`) === group) set.push(`${base}:${i}`);
    }
    return set.sort(byUtf8);
  };
  const requests = (set: readonly string[], owner = newOwner(), ttlMs = 10_000) =>
    set.map((key): AcquireRequest => ({ key, owner, ttlMs }));
  const many = (b: LockBackend, r: readonly AcquireRequest[]): Promise<AcquireResult[]> =>
    b.tryAcquireMany!(r);

  test('tryAcquireMany (optional) grants every key or none, a token per key, refused keys reported', async () => {
    const b = await backend();
    const other = await backend();
    if (!b.tryAcquireMany) return;
    const declared = b.capabilities.maxManyKeys;
    assert.ok(declared === undefined || (Number.isInteger(declared) && declared >= 1));
    const size = Math.min(b.capabilities.maxManyKeys ?? 64, 64);
    const set = keys(b, 'all', size);
    const mine = requests(set);
    const results = await many(b, mine);
    assert.equal(results.length, set.length, 'one result per request, in order');
    for (const [i, result] of results.entries()) {
      assert.equal(result.acquired, true, set[i]);
      if (!result.acquired) continue;
      assert.equal(result.reentered, false);
      const state = await other.inspect(set[i]!);
      assert.equal(state?.owner, mine[i]!.owner);
      assert.equal(state?.count, 1);
      if (state?.fencingToken !== undefined) assert.equal(state.fencingToken, result.fencingToken);
    }
    // Busy: a set with one held key changes nothing, neither the free keys nor the held one.
    const tokens = results.map((r) => (r.acquired ? r.fencingToken : -1n));
    for (const r of mine.slice(1)) assert.equal(await b.release(r), 'released');
    const rival = requests(set.slice(0, 3));
    const refused = await many(other, rival);
    assert.equal(refused.length, 3);
    assert.ok(
      refused.every((r) => !r.acquired),
      'all or nothing',
    );
    const first = refused[0]!;
    if (!first.acquired && first.retryAfterMs !== undefined)
      assert.ok(first.retryAfterMs > 0 && first.retryAfterMs <= 11_000);
    assert.equal(await other.inspect(set[1]!), null, 'a free key of a refused set stays free');
    assert.equal(await other.inspect(set[2]!), null, 'a free key of a refused set stays free');
    assert.equal((await other.inspect(set[0]!))?.count, 1, 'the held key is unchanged');
    assert.equal(await b.release(mine[0]!), 'released');
    // Free again: a new grant of each key fences above the last.
    const again = await many(other, rival);
    for (const [i, result] of again.entries()) {
      assert.equal(result.acquired, true);
      if (result.acquired) assert.ok(result.fencingToken > tokens[i]!, 'tokens increase');
      assert.equal(await other.release(rival[i]!), 'released');
    }
  });

  test('tryAcquireMany (optional) re-enters keys the owner holds, and changes none of them when refused', async () => {
    const b = await backend();
    const other = await backend();
    if (!b.tryAcquireMany) return;
    const set = keys(b, 'reentry', 3);
    const owner = newOwner();
    const held = await b.tryAcquire({ key: set[0]!, owner, ttlMs: 10_000 });
    assert.equal(held.acquired, true);
    // Busy third key: refused, and the owner's own key keeps its count.
    const busy = { key: set[2]!, owner: newOwner(), ttlMs: 10_000 };
    assert.equal((await other.tryAcquire(busy)).acquired, true);
    const refused = await many(b, requests(set, owner));
    assert.ok(refused.every((r) => !r.acquired));
    assert.equal((await other.inspect(set[0]!))?.count, 1, 'no re-entry counted for a refused set');
    assert.equal(await other.inspect(set[1]!), null);
    assert.equal(await other.release(busy), 'released');
    const results = await many(b, requests(set, owner));
    const [again, fresh] = results;
    assert.ok(again?.acquired && held.acquired);
    assert.equal(again.reentered, true);
    assert.equal(again.fencingToken, held.fencingToken);
    assert.ok(fresh?.acquired);
    assert.equal(fresh.reentered, false);
    assert.equal((await other.inspect(set[0]!))?.count, 2);
    for (const k of [set[0]!, ...set]) await b.release({ key: k, owner });
    for (const k of set) assert.equal(await other.inspect(k), null);
  });

  test('tryAcquireMany (optional) takes keys that look like code as plain data', async () => {
    const b = await backend();
    const other = await backend();
    if (!b.tryAcquireMany) return;
    const tag = `{dlock-spi-many-${run}-code}`;
    const max = b.capabilities.maxManyKeys ?? 64;
    // One call per group of the backend, as the core would send them (every key tested).
    const groups = new Map<string, string[]>();
    for (const k of codeKeys.map((c) => `${tag}${c}`).sort(byUtf8)) {
      const group = b.manyGroup?.(k) ?? '';
      groups.set(group, [...(groups.get(group) ?? []), k]);
    }
    for (const set of groups.values()) {
      const mine = requests(set.slice(0, max));
      const results = await many(b, mine);
      assert.ok(results.every((r) => r.acquired));
      for (const r of mine)
        assert.equal((await other.inspect(r.key))?.key, r.key, JSON.stringify(r.key));
      for (const r of mine) assert.equal(await b.release(r), 'released');
    }
  });
}
