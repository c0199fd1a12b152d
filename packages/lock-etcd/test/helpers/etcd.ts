import { commandExists, probeTcp, requireService } from '@dlock/test-utils';

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
