/**
 * The conformance kit: the behaviour every backend must show, as one suite an adapter runs with
 * its own test runner (`@dlock/lock-core/testing`). Two suites, as keyv publishes: the
 * client-level `runConformance` (the semantics users rely on, through `createLockClient`) and the
 * adapter-level `runBackendSpiSuite` (the contract of `backend.ts`, on the backend's methods).
 * Every adapter runs both. The suites cite "Semantics N": the numbered list "Semantics every
 * backend promises" in docs/guarantees.md.
 *
 * ```ts
 * import { describe, it, beforeAll, afterAll } from 'vitest';
 * import { runConformance } from '@dlock/lock-core/testing';
 * runConformance({
 *   name: 'redis',
 *   createBackend: () => redisBackend({ client: new Redis(), prefix: 'test:' }),
 *   runner: { describe, it, beforeAll, afterAll },
 * });
 * ```
 */
import { type ConformanceOptions, createKit } from './kit.js';
import { exclusionSuite } from './suite-exclusion.js';
import { expirySuite } from './suite-expiry.js';
import { fencingFaultsSuite } from './suite-fencing-faults.js';
import { inputsSuite } from './suite-inputs.js';
import { listSuite } from './suite-list.js';
import { purgeSuite } from './suite-purge.js';
import { reentrancySuite } from './suite-reentrancy.js';
import { shutdownSuite } from './suite-shutdown.js';
import { waitingSuite } from './suite-waiting.js';
import { watchdogSuite } from './suite-watchdog.js';

export {
  type BackendSpiSuiteOptions,
  runBackendSpiSuite,
  SPI_SUITE_KEYS,
} from './backend-spi-suite.js';
export type {
  BackendTraits,
  ConformanceFaults,
  ConformanceOptions,
  TestRunner,
} from './kit.js';
export { eventually, sleep } from './kit.js';

export function runConformance(options: ConformanceOptions): void {
  const kit = createKit(options);
  const { describe, it, beforeAll, afterAll } = options.runner;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  describe(`dlock conformance: ${options.name}`, () => {
    beforeAll(async () => {
      process.on('unhandledRejection', onUnhandled);
      kit.capabilities = (await kit.backend()).capabilities;
    });
    afterAll(async () => {
      await kit.closeAll();
      process.off('unhandledRejection', onUnhandled);
    });

    describe('mutual exclusion and fencing', () => exclusionSuite(kit));
    describe('expiry and owner checks', () => expirySuite(kit));
    describe('reentrancy', () => reentrancySuite(kit));
    describe('watchdog', () => watchdogSuite(kit));
    describe('waiting', () => waitingSuite(kit));
    describe('inputs', () => inputsSuite(kit));
    describe('shutdown', () => shutdownSuite(kit));
    describe('listing', () => listSuite(kit));
    describe('purge', () => purgeSuite(kit));
    if (kit.faults.loseFencingState) {
      describe('fencing across a lost counter', () => fencingFaultsSuite(kit));
    }

    it('caused no unhandled rejections', async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (unhandled.length > 0)
        throw new Error(`unhandled rejections: ${unhandled.map(String).join('; ')}`);
    });
  });
}
