/** Work that runs on after the call that started it (ending connections, kills), for close(). */
export class Background {
  readonly #work = new Set<Promise<unknown>>();

  /**
   * Tracks `work` until it settles so `close()` can wait for it. Its failure is not dropped: the
   * same promise is returned to (and rejects for) the caller that started it.
   */
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
