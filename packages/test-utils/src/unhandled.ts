/**
 * Records unhandled promise rejections while a fault test runs, so it can assert there were none
 * (a lost lock must be reported through `lock.signal`, never by crashing the process).
 *
 * ```ts
 * const unhandled = recordUnhandledRejections();
 * afterEach(() => expect(unhandled.reasons).toEqual([]));
 * afterAll(() => unhandled.stop());
 * ```
 */
export function recordUnhandledRejections(): { readonly reasons: unknown[]; stop(): void } {
  const reasons: unknown[] = [];
  const listener = (reason: unknown): void => {
    reasons.push(reason);
  };
  process.on('unhandledRejection', listener);
  return {
    reasons,
    stop: () => {
      process.off('unhandledRejection', listener);
    },
  };
}
