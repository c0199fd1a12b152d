/**
 * @dlock/lock-etcd against its peers on the machine's etcd (127.0.0.1:2379, or DLOCK_ETCD_URL),
 * under a unique key prefix. Peers: the etcd3 package's own `Lock`, which fails at once when the
 * key is taken, so a user's best effort is to retry `acquire()` every 10 ms; and the floor of any
 * etcd lock, one put plus one delete. Commands are counted on the server (its gRPC message
 * counters from /metrics), so they include stream messages (watch create/cancel, keepalives);
 * they assume the bench is the only client of that etcd while it runs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import { etcdBackend } from '@dlock/lock-etcd';
import { Etcd3, EtcdLockFailedError } from 'etcd3';
import { compare, median, opsPerSecond, print, type Result } from './harness.js';

const ENDPOINT = process.env.DLOCK_ETCD_URL ?? 'http://127.0.0.1:2379';
const OPS = 200;
const ROUNDS = 5;
const WAITERS = 16;
const SECTIONS = 160;

/** One peer: takes a key (waiting if busy) and returns its release. */
interface Peer {
  readonly name: string;
  lock(key: string): Promise<() => Promise<unknown>>;
  close(): Promise<void>;
}

/** A dlock client on its own backend: one session lease, like one process. */
function dlockPeer(client: Etcd3, prefix: string): Peer {
  const locks: LockClient = createLockClient(etcdBackend({ client, prefix }), { ttlMs: 30_000 });
  return {
    name: 'dlock lock-etcd (native queue)',
    async lock(key) {
      const lock = await locks.acquire(key);
      return () => lock.release();
    },
    close: () => locks.close(),
  };
}

/** etcd3's own Lock: one lease per acquisition, fails when taken, so retry every 10 ms. */
function etcd3LockPeer(client: Etcd3, prefix: string): Peer {
  return {
    name: 'etcd3 Lock, acquire() retried every 10 ms',
    async lock(key) {
      for (;;) {
        const lock = client.lock(`${prefix}etcd3/${key}`).ttl(30);
        try {
          await lock.acquire();
          return () => lock.release();
        } catch (error) {
          if (!(error instanceof EtcdLockFailedError)) throw error;
          await sleep(10);
        }
      }
    },
    close: async () => {},
  };
}

/** The least any etcd lock sends: a put to take the key, a delete to give it back. No waiting. */
function floorPeer(client: Etcd3, prefix: string): Peer {
  return {
    name: 'floor: one put + one delete',
    async lock(key) {
      const k = `${prefix}floor/${key}`;
      await client.put(k).value('x');
      return async () => {
        await client.delete().key(k);
      };
    },
    close: async () => {},
  };
}

/** Sum of every gRPC message etcd received (unary calls and stream messages), health checks aside. */
async function serverMessages(): Promise<number> {
  const text = await (await fetch(`${ENDPOINT}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('grpc_server_msg_received_total{') || line.includes('Health')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

interface HandOffStats {
  /** Median milliseconds from one release to the next grant. */
  readonly handOffMs: number;
  /** Fraction of grants that went to the waiter that had waited longest. */
  readonly fifo: number;
  /** Server messages per critical section. */
  readonly messages: number;
}

/** WAITERS peers (each its own client, like processes) share SECTIONS critical sections. */
async function handOff(peers: readonly Peer[], key: string): Promise<HandOffStats> {
  let sections = 0;
  let releasedAt: number | undefined;
  const gaps: number[] = [];
  const waitingSince = new Map<number, number>();
  let fair = 0;
  let arrivals = 0;
  const before = await serverMessages();
  await Promise.all(
    peers.map(async (peer, id) => {
      while (sections < SECTIONS) {
        waitingSince.set(id, arrivals++);
        const release = await peer.lock(key);
        const earliest = Math.min(...waitingSince.values());
        if (waitingSince.get(id) === earliest) fair++;
        waitingSince.delete(id);
        if (releasedAt !== undefined) gaps.push(performance.now() - releasedAt);
        sections++;
        await new Promise((resolve) => setImmediate(resolve));
        releasedAt = performance.now();
        await release();
      }
    }),
  );
  const messages = (await serverMessages()) - before;
  return { handOffMs: median(gaps), fifo: fair / sections, messages: messages / sections };
}

export async function etcdBench(): Promise<Result[]> {
  const prefix = `dlock-bench/${process.pid}-${Date.now()}/`;
  const results: Result[] = [];
  const client = new Etcd3({ hosts: ENDPOINT });
  const single = [
    dlockPeer(client, prefix),
    etcd3LockPeer(client, prefix),
    floorPeer(client, prefix),
  ];
  try {
    const perOp = new Map<string, number[]>();
    const uncontended = await compare({
      title: `etcd: uncontended acquire + release, one key, sequential (${ENDPOINT})`,
      unit: 'ops/s',
      higherIsBetter: true,
      baseline: single[2]!.name,
      rounds: ROUNDS,
      contenders: single.map((peer) => ({
        name: peer.name,
        setup: async () => {
          const release = await peer.lock('warm-up');
          await release();
        },
        async round() {
          const before = await serverMessages();
          const rate = await opsPerSecond(OPS, async () => {
            const release = await peer.lock('uncontended');
            await release();
          });
          const list = perOp.get(peer.name) ?? [];
          list.push(((await serverMessages()) - before) / OPS);
          perOp.set(peer.name, list);
          return rate;
        },
      })),
    });
    // Counted during the rounds, so added to the result afterwards.
    const counts = `Server messages per acquire + release: ${single
      .map((p) => `${p.name}: ${median(perOp.get(p.name)!).toFixed(1)}`)
      .join('; ')}.`;
    console.log(`\n${counts}`);
    results.push({ ...uncontended, notes: [...uncontended.notes, counts] });

    // Hand-off: each waiter its own client and connection, like separate processes.
    const waiterClients = Array.from({ length: WAITERS }, () => new Etcd3({ hosts: ENDPOINT }));
    const groups: { name: string; peers: Peer[] }[] = [
      {
        name: 'dlock lock-etcd (native queue)',
        peers: waiterClients.map((c) => dlockPeer(c, prefix)),
      },
      {
        name: 'etcd3 Lock, acquire() retried every 10 ms',
        peers: waiterClients.map((c) => etcd3LockPeer(c, prefix)),
      },
    ];
    const stats = new Map<string, HandOffStats[]>(groups.map((g) => [g.name, []]));
    try {
      results.push(
        await compare({
          title: `etcd: hand-off latency, ${WAITERS} waiters on separate clients, ${SECTIONS} sections`,
          unit: 'ms release-to-grant',
          higherIsBetter: false,
          baseline: groups[1]!.name,
          rounds: ROUNDS,
          contenders: groups.map((g) => ({
            name: g.name,
            async round() {
              const s = await handOff(g.peers, 'handoff');
              stats.get(g.name)!.push(s);
              return s.handOffMs;
            },
          })),
        }),
      );
    } finally {
      await Promise.all(groups.flatMap((g) => g.peers.map((p) => p.close())));
      for (const c of waiterClients) c.close();
    }
    const summary: Result = {
      title: 'etcd: per hand-off, medians over the rounds',
      unit: 'server messages per section',
      baseline: groups[1]!.name,
      higherIsBetter: false,
      rows: groups.map((g) => {
        const s = stats.get(g.name)!;
        const messages = median(s.map((x) => x.messages));
        const base = median(stats.get(groups[1]!.name)!.map((x) => x.messages));
        return {
          name: `${g.name} (FIFO: ${(median(s.map((x) => x.fifo)) * 100).toFixed(0)}% of grants to the longest waiter)`,
          median: messages,
          min: Math.min(...s.map((x) => x.messages)),
          max: Math.max(...s.map((x) => x.messages)),
          ratio: messages / base,
          samples: s.map((x) => x.messages),
        };
      }),
      notes: [
        'Messages: every gRPC message etcd received per critical section (unary calls, watch ' +
          'create/cancel, lease keepalives), from its /metrics counters.',
      ],
    };
    print(summary);
    results.push(summary);
  } finally {
    await Promise.all(single.map((p) => p.close()));
    await client.delete().prefix(prefix);
    client.close();
  }
  return results;
}
