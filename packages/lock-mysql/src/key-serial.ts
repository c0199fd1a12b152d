/**
 * Runs attempts on the same key one after another, in call order. Concurrent attempts on one key
 * from one backend can win only once anyway; running them in order makes their answers arrive in
 * call order, which is what the client's local FIFO relies on (it queues waiters in the order
 * their first refusals come back).
 */
export class KeySerial {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    const result = previous ? previous.then(task, task) : task();
    const tail = result.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}
