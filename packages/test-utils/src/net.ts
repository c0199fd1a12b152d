import { createConnection, createServer } from 'node:net';

/** Resolves when a TCP connection to host:port succeeds within `timeoutMs`. */
export function probeTcp(host: string, port: number, timeoutMs = 1_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot connect to ${host}:${port}: ${error.message}`, { cause: error }));
    });
  });
}

function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port the OS reports free right now (there is always a small race until it is bound). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface FreePortsOptions {
  /**
   * Also require `port + offset` to be free for each of these offsets (Redis Cluster binds its
   * bus on port + 10000).
   * @default []
   */
  alsoFree?: readonly number[];
  /**
   * Lowest port to hand out.
   * @default 20000
   */
  min?: number;
  /**
   * Highest port to hand out.
   * @default 45000
   */
  max?: number;
}

/** `count` distinct free ports chosen at random in [min, max], each with its companions free. */
export async function freePorts(count: number, options: FreePortsOptions = {}): Promise<number[]> {
  const { alsoFree = [], min = 20_000, max = 45_000 } = options;
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count; attempt++) {
    if (attempt > 500) throw new Error(`could not find ${count} free ports in [${min}, ${max}]`);
    const port = min + Math.floor(Math.random() * (max - min + 1));
    const wanted = [port, ...alsoFree.map((offset) => port + offset)];
    if (
      wanted.some((p) => ports.includes(p) || ports.some((q) => alsoFree.some((o) => q + o === p)))
    ) {
      continue;
    }
    const free = await Promise.all(wanted.map((p) => portIsFree(p)));
    if (free.every(Boolean)) ports.push(port);
  }
  return ports;
}
