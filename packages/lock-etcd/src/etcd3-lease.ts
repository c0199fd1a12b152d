import type { EtcdClientLike } from './driver.js';

/** What the driver needs of etcd's LeaseKeepAlive bidirectional stream. */
interface KeepAliveStreamLike {
  write(request: { ID: string }): unknown;
  end(): unknown;
  on(event: 'data', listener: (response: { ID: string; TTL: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (cause?: unknown) => void): unknown;
}

interface Pending {
  resolve(ttlSeconds: number): void;
  reject(cause: unknown): void;
}

/**
 * Every lease keep-alive of one backend on a single LeaseKeepAlive stream (etcd3's own `Lease`
 * opens a stream per lease, and `keepaliveOnce` one per call). Each keep-alive is one message;
 * etcd answers each with the lease's new TTL, in order per lease. A stream that errors, ends or
 * leaves a keep-alive unanswered for `requestTimeoutMs` is dropped with everything pending on
 * it, and the next keep-alive opens a fresh one.
 */
export class KeepAliveChannel {
  #stream: Promise<KeepAliveStreamLike> | undefined;
  readonly #pending = new Map<string, Pending[]>();
  #closed = false;

  readonly #client: EtcdClientLike;
  readonly #requestTimeoutMs: number;

  constructor(client: EtcdClientLike, requestTimeoutMs: number) {
    this.#client = client;
    this.#requestTimeoutMs = requestTimeoutMs;
  }

  keepAlive(lease: string): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('the keep-alive stream is closed'));
    const opening = this.#open();
    return new Promise<number>((resolve, reject) => {
      let queue: Pending[] | undefined;
      const entry: Pending = {
        resolve: (ttl) => {
          clearTimeout(timer);
          resolve(ttl);
        },
        reject: (cause) => {
          clearTimeout(timer);
          reject(cause);
        },
      };
      // Unanswered in time (the stream not even opened, or a silent partition): the stream is
      // stuck, so start over on a new one.
      const timer = setTimeout(() => {
        const index = queue?.indexOf(entry) ?? -1;
        if (index !== -1) queue!.splice(index, 1);
        const cause = new Error(`lease keep-alive timed out after ${this.#requestTimeoutMs} ms`);
        entry.reject(cause);
        this.#drop(opening, cause);
      }, this.#requestTimeoutMs);
      timer.unref();
      opening.then(
        (stream) => {
          if (this.#stream !== opening) {
            entry.reject(new Error('the keep-alive stream ended'));
            return;
          }
          queue = this.#pending.get(lease) ?? [];
          this.#pending.set(lease, queue);
          queue.push(entry);
          stream.write({ ID: lease });
        },
        (error: unknown) => entry.reject(error),
      );
    });
  }

  close(): void {
    this.#closed = true;
    if (this.#stream) this.#drop(this.#stream, new Error('the keep-alive stream is closed'));
  }

  #open(): Promise<KeepAliveStreamLike> {
    if (this.#stream) return this.#stream;
    const opening = (this.#client.leaseClient.leaseKeepAlive() as Promise<unknown>).then((raw) => {
      const stream = raw as KeepAliveStreamLike;
      stream.on('data', (response) => {
        const id = String(response.ID);
        const queue = this.#pending.get(id);
        const next = queue?.shift();
        if (queue?.length === 0) this.#pending.delete(id);
        next?.resolve(Number(response.TTL));
      });
      stream.on('error', (cause) => this.#drop(opening, cause));
      stream.on('end', () => this.#drop(opening, new Error('the keep-alive stream ended')));
      if (this.#closed) this.#drop(opening, new Error('the keep-alive stream is closed'));
      return stream;
    });
    this.#stream = opening;
    // The failure reaches every keep-alive waiting for the stream; here it only lets the next
    // keep-alive open a new one.
    opening.catch(() => {
      if (this.#stream === opening) this.#stream = undefined;
    });
    return opening;
  }

  /** Forgets the stream, ends it and rejects everything waiting on it. */
  #drop(stream: Promise<KeepAliveStreamLike>, cause: unknown): void {
    if (this.#stream !== stream) return;
    this.#stream = undefined;
    const waiting = [...this.#pending.values()].flat();
    this.#pending.clear();
    for (const p of waiting) p.reject(cause);
    // A stream that never opened has nothing to end (its failure reached every keep-alive).
    stream.then(
      (s) => s.end(),
      () => undefined,
    );
  }
}
