import type { Lease } from './lease.js';

/**
 * The client's held leases by key, then owner. Two levels rather than one map on a joined
 * string: keys and owner tokens are long-lived strings whose hashes V8 caches, while a joined
 * string would be built and hashed again on every acquire and release.
 */
export class LeaseTable {
  readonly #byKey = new Map<string, Map<string, Lease>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(key: string, owner: string): Lease | undefined {
    return this.#byKey.get(key)?.get(owner);
  }

  set(lease: Lease): void {
    let owners = this.#byKey.get(lease.key);
    if (!owners) {
      owners = new Map();
      this.#byKey.set(lease.key, owners);
    }
    if (!owners.has(lease.owner)) this.#size++;
    owners.set(lease.owner, lease);
  }

  /** Removes `lease` if it is still the one on record for its key and owner. */
  delete(lease: Lease): void {
    const owners = this.#byKey.get(lease.key);
    if (owners?.get(lease.owner) !== lease) return;
    owners.delete(lease.owner);
    this.#size--;
    if (owners.size === 0) this.#byKey.delete(lease.key);
  }

  *values(): IterableIterator<Lease> {
    for (const owners of this.#byKey.values()) yield* owners.values();
  }

  clear(): void {
    this.#byKey.clear();
    this.#size = 0;
  }
}
