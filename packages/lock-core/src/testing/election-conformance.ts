/**
 * The client-level suite for leader elections: `election()` through `createLockClient`, as
 * `runSharedConformance` checks semaphores. Same options as `runConformance`; a backend without
 * `election` passes without checking anything.
 */
import { conformanceFrame } from './conformance-frame.js';
import type { ConformanceOptions } from './kit.js';
import { electionClientSuite } from './suite-election-client.js';
import { electionObserveSuite } from './suite-election-observe.js';

export function runElectionConformance(options: ConformanceOptions): void {
  conformanceFrame('dlock election conformance', options, (kit) => {
    const { describe } = options.runner;
    describe('leadership', () => electionClientSuite(kit));
    describe('observe and run', () => electionObserveSuite(kit));
  });
}
