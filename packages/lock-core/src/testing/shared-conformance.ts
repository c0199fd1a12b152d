/**
 * The client-level suite for shared keys: semaphores and read-write locks through
 * `createLockClient`, as `runConformance` checks the mutex. Same options as `runConformance`;
 * scenarios for what the backend does not declare (no `shared`, a semaphore limit above
 * `maxSemaphoreLimit`, no `readWrite`) pass without checking anything.
 */
import { conformanceFrame } from './conformance-frame.js';
import type { ConformanceOptions } from './kit.js';
import { sharedClientReadWriteSuite } from './suite-shared-client-read-write.js';
import { sharedClientSemaphoreSuite } from './suite-shared-client-semaphore.js';

export function runSharedConformance(options: ConformanceOptions): void {
  conformanceFrame('dlock shared-key conformance', options, (kit) => {
    const { describe } = options.runner;
    describe('semaphores', () => sharedClientSemaphoreSuite(kit));
    describe('read-write locks', () => sharedClientReadWriteSuite(kit));
  });
}
