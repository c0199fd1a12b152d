/**
 * Local first-come-first-served order for server-side waits on one key: only the head of a key's
 * queue waits on the server, the rest wait here. Without it, waiters of one process would race to
 * check out connections and reach the server's queue in any order, and each would hold a
 * connection while it waits.
 */
export class WaitQueues {
  readonly #queues = new Map<string, Ticket[]>();

  /** Joins the key's queue; resolves when it is this caller's turn. Rejects on abort. */
  async join(key: string, signal: AbortSignal): Promise<Ticket> {
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = [];
      this.#queues.set(key, queue);
    }
    const ticket = new Ticket(() => this.#leave(key, ticket));
    queue.push(ticket);
    if (queue.length === 1) ticket.promote();
    try {
      await abortable(ticket.turn, signal);
    } catch (error) {
      ticket.leave();
      throw error;
    }
    return ticket;
  }

  #leave(key: string, ticket: Ticket): void {
    const queue = this.#queues.get(key);
    const index = queue?.indexOf(ticket) ?? -1;
    if (!queue || index === -1) return;
    queue.splice(index, 1);
    if (queue.length === 0) this.#queues.delete(key);
    else if (index === 0) queue[0]!.promote();
  }
}

export class Ticket {
  #promote!: () => void;
  readonly turn = new Promise<void>((resolve) => {
    this.#promote = resolve;
  });
  constructor(readonly leave: () => void) {}
  promote(): void {
    this.#promote();
  }
}

/** `promise`, or the signal's reason as soon as it aborts. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
