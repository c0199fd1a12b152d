import type { LeaseState } from '@dlock/lock-core/spi';

/**
 * Grant order of a shared key's leases as far as the tokens tell it, for inspect (one server's
 * view, or a quorum's): every semaphore and write grant took a larger token; a read carries the
 * token of the last write, so among equal tokens the write came first (a downgrade), and reads
 * sharing one keep the order they came in (sort with this is stable).
 */
export function byGrantOrder(a: LeaseState, b: LeaseState): number {
  const [ta, tb] = [a.fencingToken ?? 0n, b.fencingToken ?? 0n];
  if (ta !== tb) return ta < tb ? -1 : 1;
  return (a.kind === 'write' ? 0 : 1) - (b.kind === 'write' ? 0 : 1);
}
