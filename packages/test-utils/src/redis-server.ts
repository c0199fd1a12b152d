import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePorts, probeTcp } from './net.js';
import { commandExists, type ManagedProcess, startProcess } from './processes.js';
import { requireService, type ServiceStatus } from './service-gate.js';
import { makeTempDir } from './temp-dir.js';

/** The machine's shared Redis: used read/write only under our own unique key prefix. */
export const SHARED_REDIS = { host: '127.0.0.1', port: 6379 } as const;

/** Skips (locally) or fails (in CI) when the machine's Redis on 6379 is not there. */
export function requireSharedRedis(): Promise<ServiceStatus> {
  return requireService(`redis at ${SHARED_REDIS.host}:${SHARED_REDIS.port}`, () =>
    probeTcp(SHARED_REDIS.host, SHARED_REDIS.port),
  );
}

/** Skips (locally) or fails (in CI) when the tests cannot start their own Redis servers. */
export function requireRedisBinaries(): Promise<ServiceStatus> {
  return requireService('redis-server and redis-cli binaries', async () => {
    for (const binary of ['redis-server', 'redis-cli']) {
      if (!(await commandExists(binary))) throw new Error(`${binary} is not on PATH`);
    }
  });
}

/** A throwaway redis-server on a spare port, never 6379; no persistence, so a restart loses all. */
export interface TestRedisServer {
  readonly port: number;
  readonly url: string;
  readonly process: ManagedProcess;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** Stop, then start again on the same port with an empty dataset. */
  restart(): Promise<void>;
  /** Stop the server and remove its directory. */
  dispose(): Promise<void>;
}

export interface StartRedisOptions {
  /** Extra redis-server arguments, such as `['--replicaof', '127.0.0.1', '1234']`. */
  args?: readonly string[];
  port?: number;
}

/**
 * Starts one redis-server on `port` (bound to 127.0.0.1) with its files in `dir`, without
 * persistence or protected mode, plus `args`; resolves once it accepts connections.
 */
export function spawnRedisServer(
  port: number,
  dir: string,
  args: readonly string[] = [],
  name = `redis-server:${port}`,
): Promise<ManagedProcess> {
  return startProcess({
    name,
    command: 'redis-server',
    args: [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
      ...args,
    ],
    readyWhen: /Ready to accept connections/,
  });
}

export async function startRedisServer(options: StartRedisOptions = {}): Promise<TestRedisServer> {
  const [port] = options.port === undefined ? await freePorts(1) : [options.port];
  const temp = await makeTempDir('dlock-redis-');
  const dir = join(temp.path, String(port));
  await mkdir(dir, { recursive: true });
  const args = options.args ?? [];
  let current = await spawnRedisServer(port!, dir, args);
  const server: TestRedisServer = {
    port: port!,
    url: `redis://127.0.0.1:${port}`,
    get process() {
      return current;
    },
    async stop() {
      await current.stop();
    },
    async restart() {
      await current.stop();
      current = await spawnRedisServer(port!, dir, args);
    },
    async dispose() {
      await current.stop();
      await temp.remove();
    },
  };
  return server;
}
