import type { Lease } from './lease.js';

/**
 * The client's held leases by key, then owner. Nearly always one owner holds a key in a client,
 * so a key maps straight to its lease and only grows a per-owner map when a second owner (an
 * explicit shared one, or an expired lease not yet noticed) appears: no map is allocated per
 * acquire, and no joined string is built and hashed.
 */
export class LeaseTable {
  readonly #byKey = new Map<string, Lease | Map<string, Lease>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(key: string, owner: string): Lease | undefined {
    const entry = this.#byKey.get(key);
    if (entry === undefined) return undefined;
    if (entry instanceof Map) return entry.get(owner);
    return entry.owner === owner ? entry : undefined;
  }

  set(lease: Lease): void {
    const entry = this.#byKey.get(lease.key);
    if (entry === undefined) {
      this.#byKey.set(lease.key, lease);
      this.#size++;
    } else if (entry instanceof Map) {
      if (!entry.has(lease.owner)) this.#size++;
      entry.set(lease.owner, lease);
    } else if (entry.owner === lease.owner) {
      this.#byKey.set(lease.key, lease);
    } else {
      this.#byKey.set(
        lease.key,
        new Map([
          [entry.owner, entry],
          [lease.owner, lease],
        ]),
      );
      this.#size++;
    }
  }

  /** Whether some lease of `key` is held (not releasing, released or lost). */
  holds(key: string): boolean {
    const entry = this.#byKey.get(key);
    if (entry === undefined) return false;
    if (!(entry instanceof Map)) return entry.state === 'held';
    for (const lease of entry.values()) if (lease.state === 'held') return true;
    return false;
  }

  /** Removes `lease` if it is still the one on record for its key and owner. */
  delete(lease: Lease): void {
    const entry = this.#byKey.get(lease.key);
    if (entry === lease) {
      this.#byKey.delete(lease.key);
      this.#size--;
    } else if (entry instanceof Map && entry.get(lease.owner) === lease) {
      entry.delete(lease.owner);
      this.#size--;
      if (entry.size === 0) this.#byKey.delete(lease.key);
    }
  }

  *values(): IterableIterator<Lease> {
    for (const entry of this.#byKey.values()) {
      if (entry instanceof Map) yield* entry.values();
      else yield entry;
    }
  }

  clear(): void {
    this.#byKey.clear();
    this.#size = 0;
  }
}
