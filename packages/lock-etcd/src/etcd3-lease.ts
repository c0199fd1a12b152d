import type { Lease } from 'etcd3';
import type { EtcdClientLike } from './client-types.js';
import type { SessionLease } from './driver.js';

/**
 * The session lease on etcd3's `Lease`: its keepalive stream renews it, and each answered
 * keepalive moves `guaranteedUntil` to its send time plus the TTL the server granted.
 */
export async function openLease(
  client: EtcdClientLike,
  ttlSeconds: number,
  requestTimeoutMs: number,
): Promise<SessionLease> {
  const sentAt = performance.now();
  const lease: Lease = client.lease(ttlSeconds, { autoKeepAlive: true });
  const listeners: ((cause: unknown) => void)[] = [];
  let lostCause: { cause: unknown } | undefined;
  let ttlMs = ttlSeconds * 1000;
  let guaranteedUntil = sentAt + ttlMs;
  // Send times of keepalives not yet answered; answers arrive in order on the stream.
  let fired: number[] = [];
  const acknowledged = (sent: number, ttl: string | number): void => {
    const seconds = Number(ttl);
    if (seconds > 0) {
      ttlMs = seconds * 1000;
      guaranteedUntil = Math.max(guaranteedUntil, sent + ttlMs);
    }
  };
  lease.on('keepaliveEstablished', () => {
    fired = [];
  });
  lease.on('keepaliveFired', () => {
    fired.push(performance.now());
  });
  lease.on('keepaliveSucceeded', (res: { TTL: string }) => {
    const sent = fired.shift();
    if (sent !== undefined) acknowledged(sent, res.TTL);
  });
  lease.on('lost', (cause: unknown) => {
    if (lostCause) return;
    lostCause = { cause };
    for (const listener of listeners.splice(0)) listener(cause);
  });
  let id: string;
  try {
    id = await withTimeout(lease.grant(), requestTimeoutMs, 'lease grant');
  } catch (error) {
    lease.release();
    throw error;
  }
  return {
    id,
    get ttlMs() {
      return ttlMs;
    },
    get guaranteedUntil() {
      return guaranteedUntil;
    },
    onLost(listener) {
      if (lostCause) queueMicrotask(() => listener(lostCause!.cause));
      else listeners.push(listener);
    },
    async refresh() {
      const sent = performance.now();
      const res = await lease.keepaliveOnce({ deadline: Date.now() + requestTimeoutMs });
      acknowledged(sent, res.TTL);
    },
    async revoke() {
      await lease.revoke({ deadline: Date.now() + requestTimeoutMs });
    },
    close() {
      // etcd3's release(): stop the keepalive and let the lease expire on its own.
      lease.release();
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
