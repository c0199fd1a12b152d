import { startRedisCluster, type TestRedisCluster } from '@dlock/test-utils';
import { Cluster, type ClusterOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

/** A test Redis Cluster for one describe block, and ioredis clients on it. */
export interface ClusterFixture {
  /** The cluster, once the block's `beforeAll` has started it. */
  readonly cluster: TestRedisCluster;
  /** A new ioredis Cluster client on every node, quit in `afterAll`. */
  newClient(options?: ClusterOptions): Cluster;
}

/**
 * Starts a cluster of 3 masters (no replicas) in the calling block's `beforeAll` and stops it,
 * after quitting every client `newClient` made, in its `afterAll`.
 */
export function useRedisCluster(): ClusterFixture {
  let cluster: TestRedisCluster | undefined;
  const clients: Cluster[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    await cluster?.dispose();
  });
  const started = (): TestRedisCluster => {
    if (!cluster) throw new Error('the cluster starts in beforeAll');
    return cluster;
  };
  return {
    get cluster() {
      return started();
    },
    newClient(options) {
      const nodes = started().nodes.map((n) => ({ host: n.host, port: n.port }));
      const client = new Cluster(nodes, options);
      clients.push(client);
      return client;
    },
  };
}
