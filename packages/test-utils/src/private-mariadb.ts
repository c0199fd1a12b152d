import { join } from 'node:path';
import { freePort } from './net.js';
import { commandExists, type ManagedProcess, startProcess } from './processes.js';
import { requireService, type ServiceStatus } from './service-gate.js';
import { makeTempDir } from './temp-dir.js';

/** The gate for tests that start their own server: the binaries must be on PATH. */
export function requireMariadbBinaries(): Promise<ServiceStatus> {
  return requireService('mariadbd and mariadb-install-db binaries', async () => {
    for (const command of ['mariadbd', 'mariadb-install-db']) {
      if (!(await commandExists(command))) throw new Error(`${command} is not on PATH`);
    }
  });
}

export interface PrivateMariadb {
  readonly port: number;
  /** `mysql://root@127.0.0.1:port/test` */
  readonly url: string;
  /** SIGKILLs the server (a crash) and starts it again on the same data and port. */
  crashAndRestart(): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * A MariaDB server of the test's own, on a spare port with a fresh data directory, so that it
 * can be killed and restarted without touching the machine's shared server.
 */
export async function startPrivateMariadb(
  options: { readonly args?: readonly string[] } = {},
): Promise<PrivateMariadb> {
  const dir = await makeTempDir('dlock-mariadb-');
  const datadir = join(dir.path, 'data');
  const install = await startProcess({
    name: 'mariadb-install-db',
    command: 'mariadb-install-db',
    args: [
      '--no-defaults',
      `--datadir=${datadir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--user=root',
      // Its own temporary directory: installs running at once in a shared /tmp collide on
      // temporary table file names.
      `--tmpdir=${dir.path}`,
    ],
  });
  const installed = await install.exited;
  if (installed.code !== 0) {
    await dir.remove();
    throw new Error(`mariadb-install-db failed:\n${install.output()}`);
  }
  const port = await freePort();
  const start = (): Promise<ManagedProcess> =>
    startProcess({
      name: 'private mariadbd',
      command: 'mariadbd',
      args: [
        '--no-defaults',
        `--datadir=${datadir}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir.path, 'sock')}`,
        `--pid-file=${join(dir.path, 'pid')}`,
        '--user=root',
        `--tmpdir=${dir.path}`,
        '--innodb-buffer-pool-size=32M',
        '--innodb-log-file-size=8M',
        '--skip-log-bin',
        ...(options.args ?? []),
      ],
      readyWhen: /ready for connections/,
      readyTimeoutMs: 30_000,
    });
  let server = await start();
  // The schema the tests use.
  const { createConnection } = await import('mysql2/promise');
  const admin = await createConnection({ host: '127.0.0.1', port, user: 'root' });
  await admin.query('CREATE DATABASE IF NOT EXISTS test');
  await admin.end();
  return {
    port,
    url: `mysql://root@127.0.0.1:${port}/test`,
    async crashAndRestart() {
      await server.kill();
      server = await start();
    },
    async dispose() {
      await server.stop('SIGTERM', 10_000);
      await dir.remove();
    },
  };
}
