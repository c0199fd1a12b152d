/**
 * Wall-clock microseconds since the epoch: never below `Date.now()`, with the sub-millisecond
 * resolution of the monotonic clock (so two grants a few µs apart get different floors).
 */
export function wallMicros(): bigint {
  const estimate = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return BigInt(Math.max(Date.now() * 1000, estimate));
}

/**
 * The next fencing token after `last`: max(last + 1, wall-clock microseconds), so tokens keep
 * increasing across a new store (a restarted process) as long as the wall clock did not step
 * back by more than the time since the key's last grant.
 */
export function nextFencingToken(last: bigint | undefined): bigint {
  const next = (last ?? 0n) + 1n;
  const floor = wallMicros();
  return next > floor ? next : floor;
}
