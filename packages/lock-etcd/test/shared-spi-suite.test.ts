import { runSharedSpiSuite } from '@dlock/lock-core/testing';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { etcdBackend } from '../src/index.js';
import { ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

describe.skipIf(!etcd.available)('etcd single node: the shared-key SPI suite', () => {
  const client = new Etcd3({ hosts: ETCD_URL });
  const prefix = runPrefix('shared-spi-etcd');
  afterAll(() => client.close());

  runSharedSpiSuite({
    name: 'etcd',
    createBackend: () => etcdBackend({ client, prefix }),
    runner: { describe, it, beforeAll, afterAll },
    // Whole-second leases: the shortest TTL etcd expires is about a second and a half.
    shortTtlMs: 2_000,
    // Who holds is the queue rule under today's limit (README: a lowered limit lists the
    // holders beyond it as waiting until they release).
    inspectsHoldersBeyondLoweredLimit: false,
  });
});
