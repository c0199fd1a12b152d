/**
 * A 3-member etcd cluster started by the test (own ports, own data dirs). Several processes
 * contend for one lock while a follower is stopped and restarted and then the leader is killed.
 * The shared log must show one holder at a time with strictly increasing fencing tokens, and grants
 * must continue through each fault.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type EtcdCluster,
  type ManagedProcess,
  makeTempDir,
  spawnNodeWorker,
  startEtcdCluster,
  waitUntil,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary, runPrefix } from './helpers/etcd.js';

const CONTENDER = fileURLToPath(new URL('./workers/contender.ts', import.meta.url));
const WORKERS = 3;

const etcdBinary = await requireBinary('etcd');

describe.skipIf(!etcdBinary.available)('3-member cluster', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let cluster: EtcdCluster | undefined;
  const workers: ManagedProcess[] = [];

  beforeAll(async () => {
    dir = await makeTempDir('dlock-etcd-cluster-');
    cluster = await startEtcdCluster({ baseDir: dir.path, size: 3 });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await cluster?.close();
    await dir?.remove();
  });

  it('keeps one holder at a time and keeps granting through a follower stop and a leader kill', async () => {
    const c = cluster!;
    const log = join(dir.path, 'shared.log');
    const stopFile = join(dir.path, 'stop');
    writeFileSync(log, '');
    const entries = (): string[] => readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const grants = (): number => entries().filter((l) => l.startsWith('exit ')).length;
    const moreGrants = async (n: number, what: string): Promise<void> => {
      const target = grants() + n;
      await waitUntil(() => grants() >= target, { timeoutMs: 30_000, message: what });
    };

    const prefix = runPrefix('cluster');
    for (let i = 0; i < WORKERS; i++) {
      workers.push(
        await spawnNodeWorker(CONTENDER, {
          name: `contender ${i}`,
          args: [c.endpoints.join(','), prefix, 'contended', log, stopFile],
          readyWhen: /READY/,
          readyTimeoutMs: 30_000,
        }),
      );
    }
    await moreGrants(15, 'grants before any fault');

    const leader = await c.leader();
    const follower = c.members.find((m) => m !== leader)!;
    await c.stop(follower);
    await moreGrants(15, 'grants with a follower stopped');
    await c.restart(follower);

    const oldLeader = await c.leader();
    await c.kill(oldLeader);
    await waitUntil(
      async () => {
        const now = await c.leader().catch(() => undefined);
        return now !== undefined && now !== oldLeader;
      },
      { timeoutMs: 30_000, message: 'a new leader' },
    );
    await moreGrants(15, 'grants after the leader was killed');

    writeFileSync(stopFile, '');
    await Promise.all(workers.map((w) => w.exited));

    // One holder at a time: every enter is closed (exit or lost) by the same holder before the
    // next enter, and tokens strictly increase from grant to grant.
    let open: { token: bigint; pid: string } | undefined;
    let last = 0n;
    let lost = 0;
    for (const line of entries()) {
      const [what, token, pid] = line.split(' ') as [string, string, string];
      const t = BigInt(token);
      if (what === 'enter') {
        expect(open, `enter ${t} while ${open?.token} was held`).toBeUndefined();
        expect(t > last, `token ${t} did not exceed ${last}`).toBe(true);
        open = { token: t, pid };
        last = t;
      } else {
        expect(open, `${what} ${t} without a holder`).toEqual({ token: t, pid });
        open = undefined;
        if (what === 'lost') lost++;
      }
    }
    expect(grants()).toBeGreaterThanOrEqual(45);
    const failures = [
      ...new Set(workers.flatMap((w) => w.output().match(/attempt failed: .*/g) ?? [])),
    ];
    console.log(
      `cluster: ${grants()} grants, ${lost} lost, workers: ${workers.map((w) => w.stdoutLines().at(-1)).join('; ')}`,
      failures.length > 0 ? `\nfailed attempts (retried): ${failures.join('\n')}` : '',
    );
  }, 150_000);
});
