/** Whether the tests that need a service can run, and why not. */
export interface ServiceStatus {
  readonly available: boolean;
  /** Why the service is unavailable (empty when available). */
  readonly reason: string;
}

/** True when running in CI (`CI=true` or `CI=1`), where a missing service is a failure. */
export function inCi(): boolean {
  const value = process.env.CI?.toLowerCase();
  return value === 'true' || value === '1';
}

/**
 * Probes a service once. Outside CI an unavailable service prints the reason and reports
 * `available: false` so the caller can `describe.skipIf(!status.available)`. In CI it throws, so
 * the test file fails instead of silently skipping.
 *
 * ```ts
 * const redis = await requireService('redis 127.0.0.1:6379', () => probeTcp('127.0.0.1', 6379));
 * describe.skipIf(!redis.available)('redis', () => { … });
 * ```
 */
export async function requireService(
  name: string,
  probe: () => Promise<unknown>,
): Promise<ServiceStatus> {
  try {
    await probe();
    return { available: true, reason: '' };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (inCi()) {
      throw new Error(`${name} is required in CI (CI=true) but is unavailable: ${reason}`, {
        cause: error,
      });
    }
    console.warn(`[skip] ${name} unavailable, skipping its tests: ${reason}`);
    return { available: false, reason };
  }
}
