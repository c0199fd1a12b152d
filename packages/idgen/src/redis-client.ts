import { IdGenArgumentError } from './errors.js';

/** The part of an ioredis client (or Cluster) that the Redis generators use. */
export interface RedisCounterClient {
  incrby(key: string, increment: number): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * INCRBY, answered exactly: the same value can never be returned twice, and nothing above 2^53
 * is rounded. ioredis turns integer replies into JS numbers (unless the client has
 * `stringNumbers`), and Lua numbers are doubles too, so a reply at or above 2^53 is unusable.
 * Plain INCRBY is used while replies are safe integers; the first unsafe reply is abandoned (a gap,
 * never a duplicate) and from then on the script reads the counter back through GET, a bulk
 * string that is parsed as a bigint.
 */
const INCRBY_EXACT = "redis.call('INCRBY', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])";

export function exactCounter(
  client: RedisCounterClient,
  key: string,
): (by: number) => Promise<bigint> {
  let scripted = false;
  return async (by) => {
    if (!scripted) {
      const reply = await client.incrby(key, by);
      if (typeof reply === 'number' && Number.isSafeInteger(reply)) return BigInt(reply);
      if (typeof reply === 'string' && /^-?[0-9]+$/.test(reply)) return BigInt(reply);
      scripted = true;
    }
    const reply = await client.eval(INCRBY_EXACT, 1, key, by);
    const text = typeof reply === 'string' ? reply : Buffer.isBuffer(reply) ? reply.toString() : '';
    if (!/^-?[0-9]+$/.test(text)) throw new Error(`unexpected INCRBY reply ${String(reply)}`);
    return BigInt(text);
  };
}

export function checkRedisClient(client: unknown): asserts client is RedisCounterClient {
  const c = client as RedisCounterClient | null;
  if (typeof c?.incrby !== 'function' || typeof c.eval !== 'function') {
    throw new IdGenArgumentError(
      'client must be an ioredis client (or anything with incrby() and eval())',
    );
  }
}

const GIVE_BACK =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0";

/** Compare-and-set the counter back (see SegmentGiveBack); compared as strings, so exact. */
export function counterGiveBack(client: RedisCounterClient, key: string) {
  return async (expectedMax: bigint, newMax: bigint): Promise<boolean> =>
    (await client.eval(GIVE_BACK, 1, key, expectedMax.toString(), newMax.toString())) === 1;
}
