import { runConformance } from '@dlock/lock-core/testing';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { connectBackend, etcdBackend } from '../src/index.js';
import { ETCD_HOST, ETCD_PORT, ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

describe.skipIf(!etcd.available)('etcd single node', () => {
  // One client for the whole run, like an application's; each backend gets its own session on it.
  const client = new Etcd3({ hosts: ETCD_URL });
  const prefix = runPrefix('kit');
  afterAll(() => client.close());

  runConformance({
    name: 'etcd',
    createBackend: () => etcdBackend({ client, prefix, sessionTtlMs: 10_000 }),
    // On its own etcd3 client, as connect(url) builds one: its close() must close that client.
    createOwnedBackend: () =>
      connectBackend(new URL(`etcd://${ETCD_HOST}:${ETCD_PORT}`), { prefix, sessionTtlMs: 10_000 }),
    runner: { describe, it, beforeAll, afterAll },
    traits: { shortTtlMs: 2_000 },
  });
});
