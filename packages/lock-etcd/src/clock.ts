/**
 * The clock every local deadline of this adapter is measured on. lock-core measures its own on
 * its lease clock (`monotonicNow()` in lock-core's `clock.ts`), which also counts time the
 * machine spent suspended; lock-core does not export it yet, so this is the one place that reads
 * the monotonic clock directly, to be replaced by lock-core's export once it has one.
 */
export function monotonicNow(): number {
  return performance.now();
}
