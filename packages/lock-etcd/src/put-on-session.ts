/**
 * How a new key gets its session, for a mutex acquisition (mutex.ts) and a semaphore or
 * read-write contender (shared-leases.ts) alike: on the session of the request's TTL, with a
 * keep-alive sent alongside the put (the same round trip) when the lease's guarantee would end
 * well before the new TTL, so the grant can be reported for its full TTL. etcd expiring the lease
 * before the put reached it loses that session: the put goes once more, on a new one.
 */
import { monotonicNow } from '@dlock/lock-core/spi';
import { reportError } from './report-error.js';
import { isLeaseNotFound, type Session, type SessionPool } from './session.js';

export async function putOnSession<T>(
  sessions: SessionPool,
  request: { readonly key: string; readonly ttl: number },
  put: (session: Session) => Promise<T>,
): Promise<T> {
  for (let round = 0; ; round++) {
    const session = await sessions.current(request.ttl);
    if (!session.nearlyCovers(monotonicNow() + request.ttl)) {
      // The grant waits for it; a failure only shortens the TTL it can report.
      session.refresh().catch((error: unknown) => reportError('acquire', request.key, error));
    }
    try {
      return await put(session);
    } catch (error) {
      if (round === 0 && isLeaseNotFound(error)) {
        session.markLost();
        continue;
      }
      throw error;
    }
  }
}
