// A memory backend served to other processes over a Unix socket: the test process plays the
// server (its store holds every lease, on its clock), child processes get a LockBackend that
// forwards each call, so SIGKILL and SIGSTOP of a child behave as they would against Redis.
// For the cross-process election scenarios of @dlock/test-utils on the reference backend.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LockBackend, MemoryStore, memoryBackend } from '../src/index.js';
import { SPECIFICATION_VERSION, type WatchHandle } from '../src/spi.js';

/** JSON with bigints (terms, fencing tokens) kept exact. */
const encode = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? { $big: String(v) } : v));
const decode = (text: string): unknown =>
  JSON.parse(text, (_k, v) =>
    v !== null && typeof v === 'object' && typeof v.$big === 'string' ? BigInt(v.$big) : v,
  );

interface Request {
  readonly id: number;
  /** `tryAcquire`, `release`, ... or `election.campaign`, `election.watch`, `unwatch`. */
  readonly op: string;
  readonly args: unknown[];
}

function lines(socket: Socket, onLine: (line: string) => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
      onLine(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
    }
  });
}

/** Serves one memory store; every connection gets its own backend on it, as a process would. */
export async function serveMemory(store = new MemoryStore()): Promise<{
  readonly path: string;
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'dlock-memory-socket-'));
  const path = join(dir, 'socket');
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const backend = memoryBackend({ store });
    const watches = new Map<number, WatchHandle>();
    const send = (message: object) => {
      if (!socket.destroyed) socket.write(`${encode(message)}\n`);
    };
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      void backend.close();
    });
    lines(socket, (line) => {
      const { id, op, args } = decode(line) as Request;
      const run = async (): Promise<unknown> => {
        if (op === 'election.watch') {
          const handle = await backend.election!.watch!(args[0] as string, () =>
            send({ event: id }),
          );
          watches.set(id, handle);
          return null;
        }
        if (op === 'unwatch') {
          await watches.get(args[0] as number)?.close();
          watches.delete(args[0] as number);
          return null;
        }
        const [scope, method] = op.startsWith('election.')
          ? [backend.election as unknown as Record<string, unknown>, op.slice(9)]
          : [backend as unknown as Record<string, unknown>, op];
        return (scope[method] as (...a: unknown[]) => Promise<unknown>).apply(scope, args);
      };
      run().then(
        (result) => send({ id, result }),
        (error: unknown) => send({ id, error: String(error) }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A LockBackend in another process, forwarding every call to `serveMemory` at `path`. */
export async function socketBackend(path: string): Promise<LockBackend> {
  const socket = createConnection(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let next = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const listeners = new Map<number, () => void>();
  lines(socket, (line) => {
    const message = decode(line) as {
      id?: number;
      event?: number;
      result?: unknown;
      error?: string;
    };
    if (message.event !== undefined) {
      listeners.get(message.event)?.();
      return;
    }
    const call = pending.get(message.id!);
    pending.delete(message.id!);
    if (message.error !== undefined) call?.reject(new Error(message.error));
    else call?.resolve(message.result);
  });
  const call = <T>(op: string, ...args: unknown[]): Promise<T> => {
    const id = ++next;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      socket.write(`${encode({ id, op, args })}\n`);
    });
  };
  const remote = memoryBackend();
  return {
    specificationVersion: SPECIFICATION_VERSION,
    name: 'memory-socket',
    capabilities: { ...remote.capabilities, handOver: false, list: false },
    tryAcquire: (r) => call('tryAcquire', r),
    extend: (r) => call('extend', r),
    release: (r) => call('release', r),
    inspect: (k) => call('inspect', k),
    election: {
      capabilities: remote.election!.capabilities,
      campaign: (r) => call('election.campaign', r),
      extend: (r) => call('election.extend', r),
      extendMany: (r) => call('election.extendMany', r),
      proclaim: (r) => call('election.proclaim', r),
      resign: (r) => call('election.resign', r),
      abandon: (r) => call('election.abandon', r),
      leader: (k) => call('election.leader', k),
      async watch(key, onChange) {
        const id = next + 1;
        listeners.set(id, onChange);
        await call('election.watch', key);
        return {
          close: async () => {
            listeners.delete(id);
            await call('unwatch', id);
          },
        };
      },
    },
    async close() {
      socket.end();
    },
  };
}
