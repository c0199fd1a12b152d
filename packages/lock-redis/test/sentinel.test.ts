import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  freePorts,
  type ManagedProcess,
  makeTempDir,
  requireRedisBinaries,
  startProcess,
  startRedisServer,
  type TestRedisServer,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { redisBackend } from '../src/index.js';
import { describeBackendSpi } from './helpers/spi-suite.js';

const binaries = await requireRedisBinaries();

describe.skipIf(!binaries.available)(
  'redis via Sentinel (master + sentinel started by the test)',
  () => {
    let master: TestRedisServer;
    let sentinel: ManagedProcess;
    let sentinelPort: number;
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    const clients: Redis[] = [];

    beforeAll(async () => {
      master = await startRedisServer();
      [sentinelPort] = (await freePorts(1)) as [number];
      temp = await makeTempDir('dlock-sentinel-');
      const config = join(temp.path, 'sentinel.conf');
      // Sentinel rewrites its config file, so it gets its own writable copy.
      await writeFile(
        config,
        [
          `port ${sentinelPort}`,
          'bind 127.0.0.1',
          `dir ${temp.path}`,
          `sentinel monitor dlockmaster 127.0.0.1 ${master.port} 1`,
          'sentinel down-after-milliseconds dlockmaster 5000',
          '',
        ].join('\n'),
      );
      sentinel = await startProcess({
        name: `redis-sentinel:${sentinelPort}`,
        command: 'redis-server',
        args: [config, '--sentinel'],
        readyWhen: /\+monitor master dlockmaster/,
      });
    });

    afterAll(async () => {
      for (const client of clients) client.disconnect();
      await sentinel?.stop();
      await master?.dispose();
      await temp?.remove();
    });

    describeBackendSpi('sentinel', () => ({
      createBackend: () => {
        const client = new Redis({
          sentinels: [{ host: '127.0.0.1', port: sentinelPort }],
          name: 'dlockmaster',
        });
        clients.push(client);
        return redisBackend({ client, prefix: 'sentinel:' });
      },
    }));
  },
);
