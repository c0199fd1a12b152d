import { reportError } from '@dlock/lock-core/spi';
import type { MysqlPoolConnection } from '../pool-types.js';
import type { Background } from './background.js';
import type { Primitive } from './primitive.js';
import { Session } from './session.js';
import type { StateRows } from './state-rows.js';

/** The keys this backend holds, one session (dedicated connection) each. */
export class SessionTable {
  readonly #sessions = new Map<string, Session>();

  constructor(
    private readonly primitive: Primitive,
    private readonly state: StateRows,
    private readonly background: Background,
  ) {}

  get(key: string): Session | undefined {
    return this.#sessions.get(key);
  }

  /** Starts the hold of a fresh grant; its TTL timer runs from now. */
  start(
    key: string,
    owner: string,
    connection: MysqlPoolConnection,
    connectionId: number,
    ttlMs: number,
  ): Session {
    const session = new Session(
      key,
      owner,
      connection,
      connectionId,
      (s) => this.background.track(this.#due(s)),
      (s) => this.background.track(this.end(s, 'destroy')),
    );
    this.#sessions.set(key, session);
    session.arm(ttlMs);
    return session;
  }

  /** Ends a hold: `give` releases the server lock and returns the connection to the pool. */
  async end(session: Session, how: 'give' | 'destroy'): Promise<void> {
    if (session.dead) return;
    session.finish();
    if (this.#sessions.get(session.key) === session) this.#sessions.delete(session.key);
    if (how === 'give') {
      try {
        await this.primitive.give(session.connection, session.key);
        session.connection.release();
        return;
      } catch {
        // Fall through: a connection we could not clean is not reused; ending it frees the lock.
      }
    }
    session.connection.destroy();
  }

  /** Ends every hold by dropping its connection (the server frees the locks). */
  async endAll(): Promise<void> {
    await Promise.allSettled([...this.#sessions.values()].map((s) => this.end(s, 'destroy')));
  }

  /**
   * The TTL timer fired: end the connection unless the lease was extended meanwhile (possibly
   * from another process sharing the owner). If the server cannot tell us, let the lock go.
   */
  async #due(session: Session): Promise<void> {
    const remainingUs = await this.state
      .leaseOf(session.key, session.connectionId)
      .catch((error: unknown) => {
        // The lock is let go (below): say why.
        reportError('mysql TTL check: read the session lease', error, session.key);
        return undefined;
      });
    if (session.dead) return;
    if (remainingUs !== undefined && remainingUs > 0) session.arm(Math.ceil(remainingUs / 1000));
    else await this.end(session, 'destroy');
  }
}
