/**
 * Election failover per backend: how long after a leader process is SIGKILLed the next
 * candidate's `campaign()` resolves, against the leadership TTL. Each round starts a leader as a
 * process of its own (src/election-leader.ts), starts a campaign in this process (queued behind
 * it), reads the leader's lease end, SIGKILLs the leader and times the campaign. A killed leader
 * cannot resign, so the floor is the lease it had left (between 2/3 of the TTL and the TTL, by
 * where the kill falls in the watchdog's renewal cycle); the second table is what the backend
 * and the core's waiting add after the lease's end (detection: a poll, a watch or a native wait).
 * Memory is excluded (it lives in one process). Nothing here is asserted.
 *
 * Run alone: node --import tsx src/election.ts [sqlite redis mysql etcd redlock]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect, type LockClient } from '@dlock/lock-core';
import { ensureSchema } from '@dlock/lock-mysql';
import { startProcess, startRedisServer, type TestRedisServer } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { compare, median, print, type Result } from './harness.js';
import { deleteKeys } from './peers.js';

const TTL_MS = 2_000;
const ROUNDS = 5;
const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
const LEADER = fileURLToPath(new URL('./election-leader.ts', import.meta.url));
const REDIS_URL = process.env.DLOCK_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MYSQL_URL = process.env.DLOCK_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const ETCD_URL = process.env.DLOCK_ETCD_URL ?? 'etcd://127.0.0.1:2379';

/** One backend under test: its URL, and what to set up and clean up around the rounds. */
interface Target {
  readonly name: string;
  readonly url: string;
  cleanup(): Promise<void>;
}

type TargetFactory = (run: string) => Promise<Target>;

const TARGETS: Readonly<Record<string, TargetFactory>> = {
  sqlite: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlock-bench-election-'));
    return {
      name: '@dlock/lock-sqlite (file)',
      url: `sqlite:${join(dir, 'elections.db')}`,
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  redis: async (run) => {
    const prefix = `dlock-bench-election:${run}:`;
    return {
      name: '@dlock/lock-redis',
      url: `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`,
      cleanup: async () => {
        const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
        try {
          await deleteKeys(redis, `${prefix}*`);
        } finally {
          redis.disconnect();
        }
      },
    };
  },
  mysql: async () => {
    // One table set for every run (ensureSchema is idempotent); each run's election names are its own.
    const table = 'dlock_bench_election';
    await ensureSchema(MYSQL_URL, { table });
    return {
      name: '@dlock/lock-mysql',
      url: `${MYSQL_URL}?table=${table}`,
      cleanup: async () => {},
    };
  },
  etcd: async (run) => ({
    name: '@dlock/lock-etcd',
    url: `${ETCD_URL}?prefix=${encodeURIComponent(`dlock-bench-election/${run}/`)}`,
    cleanup: async () => {},
  }),
  redlock: async (run) => {
    // Three servers of its own on spare ports: a majority of independent nodes, as in production.
    const servers: TestRedisServer[] = await Promise.all([0, 1, 2].map(() => startRedisServer()));
    const hosts = servers.map((s) => new URL(s.url).host).join(',');
    return {
      name: '@dlock/redlock (3 nodes)',
      url: `redlock:${hosts}?prefix=${encodeURIComponent(`dlock-bench-election:${run}:`)}`,
      cleanup: async () => {
        await Promise.all(servers.map((s) => s.dispose()));
      },
    };
  },
};

interface Round {
  /** SIGKILL of the leader to the candidate's campaign resolving. */
  readonly failoverMs: number;
  /** The campaign's resolution after the killed leader's lease end (as `leader()` read it). */
  readonly afterLeaseEndMs: number;
}

/** One failover: a leader process, a queued campaign here, SIGKILL, the campaign's end. */
async function failover(url: string, candidate: LockClient, name: string): Promise<Round> {
  const leader = await startProcess({
    name: `election leader on ${url}`,
    command: process.execPath,
    args: ['--import', 'tsx', LEADER, url, name, String(TTL_MS)],
    cwd: BENCH_DIR,
    readyWhen: /leader \d+/,
    readyTimeoutMs: 30_000,
  });
  try {
    const election = candidate.election(name, { value: 'candidate' });
    const campaign = election.campaign({ waitTimeoutMs: 60_000 });
    // One round trip after the campaign's first attempt: it is queued (or polling) by now.
    const led = await election.leader();
    if (!led) throw new Error(`no leader of ${name} after the leader process said it leads`);
    const killedAt = performance.now();
    const killedAtEpoch = Date.now();
    leader.child.kill('SIGKILL');
    const leadership = await campaign;
    const failoverMs = performance.now() - killedAt;
    await leadership.resign();
    return { failoverMs, afterLeaseEndMs: killedAtEpoch + failoverMs - led.expiresAt };
  } finally {
    await leader.kill();
  }
}

export async function electionBench(
  names: readonly string[] = Object.keys(TARGETS),
): Promise<Result[]> {
  const run = `${process.pid}-${Date.now()}`;
  const targets: Target[] = [];
  const clients: LockClient[] = [];
  const after = new Map<string, number[]>();
  const candidates = new Map<string, LockClient>();
  const skipped: string[] = [];
  try {
    for (const key of names) {
      const target = await TARGETS[key]!(run);
      targets.push(target);
      // A backend without elections yet, or not reachable, is named under the table, not run.
      try {
        const candidate = await connect(target.url, { ttlMs: TTL_MS, clientId: 'bench-candidate' });
        clients.push(candidate);
        candidate.election('probe', { value: 'probe' });
        candidates.set(target.name, candidate);
      } catch (error) {
        skipped.push(`${target.name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const measured = targets.filter((t) => candidates.has(t.name));
    if (measured.length === 0) throw new Error(`no backend to bench: ${skipped.join('; ')}`);
    const result = await compare({
      title: `election failover: SIGKILL of the leader process to the next campaign resolving (TTL ${TTL_MS} ms)`,
      unit: 'ms',
      higherIsBetter: false,
      baseline: measured[0]!.name,
      rounds: ROUNDS,
      contenders: measured.map((target) => {
        const candidate = candidates.get(target.name)!;
        let round = 0;
        after.set(target.name, []);
        return {
          name: target.name,
          async round() {
            const r = await failover(target.url, candidate, `failover-${run}-${round++}`);
            after.get(target.name)!.push(r.afterLeaseEndMs);
            return r.failoverMs;
          },
        };
      }),
      notes: [
        `Per backend, ${ROUNDS} rounds, alternating with the others: a leader process (lease ${TTL_MS} ms,`,
        'renewed every TTL/3) that has just been elected, a campaign queued behind it in the bench',
        'process, SIGKILL of the leader. A killed leader cannot resign, and it is killed with its',
        'lease at its longest (just granted), so the floor is about one TTL; a kill later in the',
        'renewal cycle finds up to a third of the TTL less left. Ratio: to the first backend.',
      ],
    });
    const rows = measured.map((target) => {
      const samples = after.get(target.name)!;
      return {
        name: target.name,
        median: median(samples),
        min: Math.min(...samples),
        max: Math.max(...samples),
        ratio: median(samples) / TTL_MS,
        samples,
      };
    });
    const tail: Result = {
      title: "election failover: the next leader after the killed leader's lease end",
      unit: 'ms',
      baseline: `the TTL (${TTL_MS} ms)`,
      higherIsBetter: false,
      rows,
      notes: [
        "The campaign's resolution minus the killed leader's lease end as leader() read it just",
        "before the kill (the client's estimate): what each backend's wait (a poll, a watch or a",
        "native wait, see its README) adds after the lease has run out. etcd reports a lease's",
        'time left in whole seconds, rounded down, so its estimate is up to 1 s early and its row',
        'here up to 1 s high. Ratio: to the TTL.',
        `Failover in TTLs (median): ${measured.map((t) => `${t.name} ${(median(result.rows.find((r) => r.name === t.name)!.samples) / TTL_MS).toFixed(2)}`).join(', ')}.`,
        ...skipped.map((line) => `Not measured: ${line}.`),
      ],
    };
    print(tail);
    return [result, tail];
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    for (const target of targets) await target.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const wanted = process.argv.slice(2);
  await electionBench(wanted.length > 0 ? wanted : undefined);
}
