/** Work that runs on after the call that started it (ending connections, kills), for close(). */
export class Background {
  readonly #work = new Set<Promise<unknown>>();

  /** Runs `work` to completion unobserved: its failure is expected and ignored. */
  track(work: Promise<unknown>): void {
    const settled = work.catch(() => {});
    this.#work.add(settled);
    void settled.finally(() => this.#work.delete(settled));
  }

  /** Resolves once everything tracked so far, and anything it started, has settled. */
  async drain(): Promise<void> {
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
  }
}
