/**
 * Wall-clock microseconds since the Unix epoch, the floor of every fresh fencing token: never
 * below `Date.now()`, with the sub-millisecond resolution of the monotonic clock, so that two
 * grants a few microseconds apart after a lost counter still get different floors.
 */
export function wallMicros(): bigint {
  const estimate = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return BigInt(Math.max(Date.now() * 1000, estimate));
}
