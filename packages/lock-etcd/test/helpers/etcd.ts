import type { LockBackend } from '@dlock/lock-core';
import { commandExists, probeTcp, requireService } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll } from 'vitest';
import { etcdBackend } from '../../src/index.js';

/** The shared etcd started by scripts/services.sh. Tests use their own prefixes and never stop it. */
export const ETCD_HOST = process.env.ETCD_HOST ?? '127.0.0.1';
export const ETCD_PORT = Number(process.env.ETCD_PORT ?? 2379);
export const ETCD_URL = `http://${ETCD_HOST}:${ETCD_PORT}`;

/** Gate for tests that need the shared etcd: skips outside CI, fails in CI. */
export const etcd = await requireService(`etcd ${ETCD_HOST}:${ETCD_PORT}`, () =>
  probeTcp(ETCD_HOST, ETCD_PORT),
);

/** Gate for tests that run the `etcd` / `etcdctl` binaries themselves. */
export async function requireBinary(name: string) {
  return requireService(`the ${name} binary`, async () => {
    if (!(await commandExists(name))) throw new Error(`${name} is not on PATH`);
  });
}

/** A prefix unique to one test run, so runs never see each other's keys. */
export function runPrefix(what: string): string {
  return `dlock-test/${what}/${Math.random().toString(36).slice(2, 10)}/`;
}

/** One etcd3 client and prefix for a describe block, and backends on them. */
export interface EtcdFixture {
  readonly client: Etcd3;
  readonly prefix: string;
  /** A new backend on the shared client and prefix, closed in `afterAll`. */
  backend(): LockBackend;
}

/**
 * A client on the shared etcd and a run prefix (`runPrefix(what)`) for the calling block; its
 * `afterAll` closes every backend `backend()` made, then the client.
 */
export function useEtcd(what: string): EtcdFixture {
  const client = new Etcd3({ hosts: ETCD_URL });
  const prefix = runPrefix(what);
  const backends: LockBackend[] = [];
  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
    client.close();
  });
  return {
    client,
    prefix,
    backend() {
      const b = etcdBackend({ client, prefix });
      backends.push(b);
      return b;
    },
  };
}
