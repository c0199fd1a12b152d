import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from './net.js';
import type { ManagedProcess } from './processes.js';
import { spawnRedisServer } from './redis-server.js';
import { makeTempDir } from './temp-dir.js';
import { waitUntil } from './wait.js';

const run = promisify(execFile);

/** A real Redis Cluster on spare local ports, each node in its own directory. */
export interface TestRedisCluster {
  readonly ports: readonly number[];
  readonly nodes: ReadonlyArray<{ host: string; port: number }>;
  /** Stops one node (SIGTERM), as a crashed master would disappear. */
  stopNode(port: number): Promise<void>;
  /** Stops exactly the servers this cluster started and removes their directories. */
  dispose(): Promise<void>;
}

export interface StartClusterOptions {
  /**
   * Number of masters.
   * @default 3
   */
  masters?: number;
  /**
   * Replicas per master.
   * @default 0
   */
  replicas?: number;
  /** Extra redis-server arguments for every node. */
  args?: readonly string[];
}

export async function startRedisCluster(
  options: StartClusterOptions = {},
): Promise<TestRedisCluster> {
  const { masters = 3, replicas = 0, args = [] } = options;
  // The cluster bus listens on port + 10000; both must be free.
  const ports = await freePorts(masters * (1 + replicas), {
    alsoFree: [10_000],
    min: 20_000,
    max: 50_000,
  });
  const temp = await makeTempDir('dlock-cluster-');
  const processes: ManagedProcess[] = [];
  const dispose = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await temp.remove();
  };
  try {
    for (const port of ports) {
      const dir = join(temp.path, String(port));
      await mkdir(dir, { recursive: true });
      processes.push(
        await spawnRedisServer(
          port,
          dir,
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '2000',
            ...args,
          ],
          `redis-cluster:${port}`,
        ),
      );
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ]);
    await waitUntil(
      async () => {
        for (const port of ports) {
          const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
          if (!stdout.includes('cluster_state:ok')) return false;
        }
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 100, message: 'cluster_state:ok on every node' },
    );
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    ports,
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    async stopNode(port) {
      await processes[ports.indexOf(port)]?.stop();
    },
    dispose,
  };
}
