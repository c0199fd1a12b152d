import { createConnection, createServer, type Socket } from 'node:net';

/** How `cut()` breaks the connections through the proxy. */
export type CutMode =
  /** Close every connection at once and refuse new ones (the peer sees a reset). */
  | 'reset'
  /** Keep connections open but drop every byte both ways, and accept new ones into the void (a partition). */
  | 'blackhole';

/** A TCP proxy between a client and a server, for cutting the client off while it works. */
export interface TcpProxy {
  /** Local port the client should connect to. */
  readonly port: number;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Breaks connectivity until `restore()`. */
  cut(mode?: CutMode): void;
  /** Forwards again (new connections only after a `reset` cut). */
  restore(): void;
  /** Closes the listener and every connection. Idempotent. */
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Where to forward. */
  target: { readonly host: string; readonly port: number };
  /**
   * Local port to listen on.
   * @default 0 (any free port)
   */
  port?: number;
}

/** Starts a TCP proxy on 127.0.0.1 that forwards to `target` until told to cut. */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  let mode: CutMode | undefined;
  const pairs = new Set<[Socket, Socket | undefined]>();
  const forward = (from: Socket, to: () => Socket | undefined): void => {
    from.on('data', (chunk: Buffer) => {
      if (mode === 'blackhole') return;
      to()?.write(chunk);
    });
  };
  const server = createServer((downstream) => {
    downstream.on('error', () => {});
    if (mode === 'reset') {
      downstream.resetAndDestroy();
      return;
    }
    const pair: [Socket, Socket | undefined] = [downstream, undefined];
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      downstream.destroy();
      pair[1]?.destroy();
    };
    downstream.on('close', drop);
    if (mode === 'blackhole') {
      // Accepted into the void: the client believes it connected.
      downstream.on('data', () => {});
      return;
    }
    const upstream = createConnection(options.target);
    pair[1] = upstream;
    upstream.on('error', () => {});
    upstream.on('close', drop);
    forward(downstream, () => upstream);
    forward(upstream, () => downstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let closed: Promise<void> | undefined;
  return {
    port,
    get connections() {
      return pairs.size;
    },
    cut(how: CutMode = 'reset') {
      mode = how;
      if (how === 'reset') {
        for (const [down, up] of pairs) {
          down.resetAndDestroy();
          up?.destroy();
        }
        pairs.clear();
      }
    },
    restore() {
      mode = undefined;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        mode = 'reset';
        for (const [down, up] of pairs) {
          down.destroy();
          up?.destroy();
        }
        pairs.clear();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
