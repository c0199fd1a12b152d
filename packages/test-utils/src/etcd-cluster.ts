import { join } from 'node:path';
import { freePorts } from './net.js';
import { type ManagedProcess, startProcess } from './processes.js';

/** One member of a test etcd cluster. */
export interface EtcdMember {
  readonly name: string;
  /** `http://127.0.0.1:<port>` for clients. */
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** The running process, or undefined while the member is stopped. */
  readonly process: ManagedProcess | undefined;
}

/** A local etcd cluster of separate `etcd` processes, each with its own ports and data dir. */
export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Every member's client URL. */
  readonly endpoints: readonly string[];
  /** The member that currently leads, as a running member reports it. */
  leader(): Promise<EtcdMember>;
  /** SIGKILLs a member (a crash). */
  kill(member: EtcdMember): Promise<void>;
  /** Stops a member gracefully (SIGTERM). */
  stop(member: EtcdMember): Promise<void>;
  /** Starts a stopped member again on its data dir; resolves once it serves clients. */
  restart(member: EtcdMember): Promise<void>;
  /** Stops every member this cluster started. Idempotent. */
  close(): Promise<void>;
}

export interface EtcdClusterOptions {
  /** Folder for the members' data dirs (one sub-folder each); the caller removes it. */
  baseDir: string;
  /**
   * Number of members.
   * @default 3
   */
  size?: number;
  /**
   * The etcd binary.
   * @default 'etcd'
   */
  binary?: string;
  /**
   * How long each member may take to become ready, in milliseconds.
   * @default 30000
   */
  readyTimeoutMs?: number;
}

const READY = /ready to serve client requests/;

interface MutableMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process: ManagedProcess | undefined;
}

/** Starts `size` etcd members on spare local ports and waits until all of them serve clients. */
export async function startEtcdCluster(options: EtcdClusterOptions): Promise<EtcdCluster> {
  const { baseDir, size = 3, binary = 'etcd', readyTimeoutMs = 30_000 } = options;
  const ports = await freePorts(size * 2);
  const token = `dlock-test-${process.pid}-${Date.now()}`;
  const members: MutableMember[] = Array.from({ length: size }, (_, i) => ({
    name: `m${i + 1}`,
    clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
    dataDir: join(baseDir, `m${i + 1}`),
    process: undefined,
  }));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const launch = async (member: MutableMember): Promise<void> => {
    member.process = await startProcess({
      name: `etcd ${member.name}`,
      command: binary,
      args: [
        '--name',
        member.name,
        '--data-dir',
        member.dataDir,
        '--listen-client-urls',
        member.clientUrl,
        '--advertise-client-urls',
        member.clientUrl,
        '--listen-peer-urls',
        member.peerUrl,
        '--initial-advertise-peer-urls',
        member.peerUrl,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-token',
        token,
        '--initial-cluster-state',
        'new',
      ],
      readyWhen: READY,
      readyTimeoutMs,
    });
  };
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    async leader() {
      for (const member of members) {
        if (!member.process) continue;
        try {
          const status = await memberStatus(member.clientUrl);
          const leader = members.find((m) => m.name === status.leaderName);
          if (leader) return leader;
        } catch {
          // try the next member
        }
      }
      throw new Error('no running member reports a leader');
    },
    async kill(member) {
      await (member as MutableMember).process?.kill();
      (member as MutableMember).process = undefined;
    },
    async stop(member) {
      await (member as MutableMember).process?.stop('SIGTERM');
      (member as MutableMember).process = undefined;
    },
    async restart(member) {
      if (member.process) return;
      await launch(member as MutableMember);
    },
    async close() {
      await Promise.all(
        members.map(async (m) => {
          await m.process?.stop('SIGTERM', 3_000);
          m.process = undefined;
        }),
      );
    },
  };
  try {
    await Promise.all(members.map(launch));
  } catch (error) {
    await cluster.close();
    throw error;
  }
  return cluster;
}

/** A member's view of the cluster, from etcd's JSON gateway (no client library needed). */
async function memberStatus(clientUrl: string): Promise<{ leaderName: string | undefined }> {
  const post = async (path: string): Promise<Record<string, unknown>> => {
    const response = await fetch(`${clientUrl}${path}`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(2_000),
    });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return (await response.json()) as Record<string, unknown>;
  };
  const status = await post('/v3/maintenance/status');
  const list = await post('/v3/cluster/member/list');
  const leaderId = String(status.leader ?? '');
  const members = (list.members ?? []) as { ID?: string; name?: string }[];
  return { leaderName: members.find((m) => String(m.ID) === leaderId)?.name };
}
