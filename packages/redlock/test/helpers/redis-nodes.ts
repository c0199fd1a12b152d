import { startRedisServer, type TestRedisServer } from '@dlock/test-utils';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedlockClientLike } from '../../src/index.js';

/**
 * Five (or n) throwaway redis-server processes on spare ports, each with its own directory and no
 * persistence, plus helpers to make clients for them. Only these processes are ever stopped.
 */
export interface RedisNodes {
  readonly servers: readonly TestRedisServer[];
  /** Fresh clients, one per node, connected and ready (like another process would have). */
  clients(options?: RedisOptions): Promise<RedlockClientLike[]>;
  /** Every key on every live node matching `pattern` (for "leaves no lock keys" checks). */
  keys(pattern: string): Promise<string[][]>;
  /** Disconnects every client made here and stops every server. */
  dispose(): Promise<void>;
}

/** Client options for Redlock nodes: fail fast while a node is down instead of queueing. */
export const NODE_CLIENT_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  retryStrategy: (times) => Math.min(times * 20, 200),
};

export async function startRedisNodes(count = 5): Promise<RedisNodes> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startRedisServer()));
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = started.find((s) => s.status === 'rejected');
  if (failure) {
    await Promise.all(servers.map((s) => s.dispose()));
    throw (failure as PromiseRejectedResult).reason;
  }
  const made: Redis[] = [];
  const connect = async (port: number, options: RedisOptions): Promise<Redis> => {
    const client = new Redis({ host: '127.0.0.1', port, ...NODE_CLIENT_OPTIONS, ...options });
    client.on('error', () => {}); // node kills and restarts make connection errors expected
    made.push(client);
    if (client.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        client.once('ready', resolve);
        client.once('end', () => reject(new Error(`could not connect to node ${port}`)));
      });
    }
    return client;
  };
  return {
    servers,
    clients: (options = {}) =>
      Promise.all(servers.map((s) => connect(s.port, options))) as Promise<RedlockClientLike[]>,
    async keys(pattern) {
      return Promise.all(
        servers.map(async (s) => {
          const client = new Redis({ host: '127.0.0.1', port: s.port, lazyConnect: true });
          client.on('error', () => {});
          try {
            await client.connect();
            return await client.keys(pattern);
          } catch {
            return [];
          } finally {
            client.disconnect();
          }
        }),
      );
    },
    async dispose() {
      for (const client of made) client.disconnect();
      await Promise.all(servers.map((s) => s.dispose()));
    },
  };
}
