import { runElectionConformance, runElectionSpiSuite } from '@dlock/lock-core/testing';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { etcdBackend } from '../src/index.js';
import { ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

// The election kits on the shared etcd: one etcd3 client for the file, as an application has;
// each backend the kits create is another "process" with its own leases on it.
describe.skipIf(!etcd.available)('etcd elections', () => {
  const client = new Etcd3({ hosts: ETCD_URL });
  afterAll(() => client.close());
  const runner = { describe, it, beforeAll, afterAll };

  const spiPrefix = runPrefix('election-spi');
  runElectionSpiSuite({
    name: 'etcd',
    createBackend: () => etcdBackend({ client, prefix: spiPrefix }),
    runner,
    // Whole-second leases: etcd's shortest.
    shortTtlMs: 1_000,
    candidateQueue: true,
  });

  const kitPrefix = runPrefix('election-kit');
  runElectionConformance({
    name: 'etcd',
    createBackend: () => etcdBackend({ client, prefix: kitPrefix }),
    runner,
    traits: { shortTtlMs: 2_000 },
  });
});
