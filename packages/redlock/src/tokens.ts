/** The largest fencing token (Math.max does not take bigints). */
export function maxToken(tokens: Iterable<bigint>): bigint {
  let max = 0n;
  for (const token of tokens) if (token > max) max = token;
  return max;
}
