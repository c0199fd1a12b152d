/**
 * The conformance kit: the behaviour every backend must show, as one suite an adapter runs with
 * its own test runner (`@dlock/lock-core/testing`). Two suites, as keyv publishes: the
 * client-level `runConformance` (the semantics users rely on, through `createLockClient`) and the
 * adapter-level `runBackendSpiSuite` (the contract of `backend.ts`, on the backend's methods).
 * Every adapter runs both. The suites cite "Semantics N": the numbered list "Semantics every
 * backend promises" in docs/guarantees.md. The optional families have a pair each, skipping
 * cleanly on a backend without them: `runSharedSpiSuite` / `runSharedConformance` (semaphores,
 * read-write locks) and `runElectionSpiSuite` / `runElectionConformance` (leader elections).
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
import { conformanceFrame } from './conformance-frame.js';
import type { ConformanceOptions } from './kit.js';
import { exclusionSuite } from './suite-exclusion.js';
import { expirySuite } from './suite-expiry.js';
import { fencingFaultsSuite } from './suite-fencing-faults.js';
import { inputsSuite } from './suite-inputs.js';
import { listSuite } from './suite-list.js';
import { multiSuite } from './suite-multi.js';
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
export { runElectionConformance } from './election-conformance.js';
export { type ElectionSpiSuiteOptions, runElectionSpiSuite } from './election-spi-suite.js';
export type {
  BackendTraits,
  ConformanceFaults,
  ConformanceOptions,
  TestRunner,
} from './kit.js';
export { eventually, sleep } from './kit.js';
export { runSharedConformance } from './shared-conformance.js';
export { runSharedSpiSuite, type SharedSpiSuiteOptions } from './shared-spi-suite.js';

export function runConformance(options: ConformanceOptions): void {
  conformanceFrame('dlock conformance', options, (kit) => {
    const { describe } = options.runner;
    describe('mutual exclusion and fencing', () => exclusionSuite(kit));
    describe('expiry and owner checks', () => expirySuite(kit));
    describe('reentrancy', () => reentrancySuite(kit));
    describe('watchdog', () => watchdogSuite(kit));
    describe('waiting', () => waitingSuite(kit));
    describe('inputs', () => inputsSuite(kit));
    describe('shutdown', () => shutdownSuite(kit));
    describe('listing', () => listSuite(kit));
    describe('purge', () => purgeSuite(kit));
    describe('several keys at once', () => multiSuite(kit));
    if (kit.faults.loseFencingState) {
      describe('fencing across a lost counter', () => fencingFaultsSuite(kit));
    }
  });
}
