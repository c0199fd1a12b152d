import { describe, expect, it } from 'vitest';
import { type Lease, LeaseTable } from '../src/lease.js';

/** Just what the table reads of a lease. */
const lease = (key: string, owner: string, state: Lease['state'] = 'held'): Lease =>
  ({ key, owner, state }) as Lease;

describe('LeaseTable', () => {
  it('keeps one lease per key and owner, and two owners of one key apart', () => {
    const table = new LeaseTable();
    const a = lease('k', 'a');
    const b = lease('k', 'b', 'releasing');
    table.set(a);
    table.set(b);
    expect(table.size).toBe(2);
    expect(table.get('k', 'a')).toBe(a);
    expect(table.get('k', 'b')).toBe(b);
    expect(table.get('k', 'c')).toBeUndefined();
    expect(table.holds('k')).toBe(true); // a holds it
    a.state = 'lost';
    expect(table.holds('k')).toBe(false); // neither holds it now
    const a2 = lease('k', 'a');
    table.set(a2); // a new grant for the same owner replaces the old lease, not adds
    expect(table.size).toBe(2);
    expect(table.holds('k')).toBe(true);
    table.delete(a); // a stale lease is not on record any more: nothing changes
    expect(table.get('k', 'a')).toBe(a2);
    table.delete(a2);
    table.delete(b);
    expect(table.size).toBe(0);
    expect(table.holds('k')).toBe(false);
    expect([...table.values()]).toEqual([]);
  });

  it('one owner per key needs no inner map; values() and clear() see every lease', () => {
    const table = new LeaseTable();
    const leases = [lease('x', 'a'), lease('y', 'a'), lease('y', 'b')];
    for (const l of leases) table.set(l);
    table.set(leases[0]!); // the same lease again: still one
    expect(table.size).toBe(3);
    expect(new Set(table.values())).toEqual(new Set(leases));
    expect(table.holds('x')).toBe(true);
    expect(table.holds('z')).toBe(false);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.get('x', 'a')).toBeUndefined();
  });
});
