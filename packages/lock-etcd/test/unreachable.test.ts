/**
 * An etcd nobody listens on: every failure names the connection error and the endpoint
 * (ECONNREFUSED 127.0.0.1:<port>), also once etcd3's circuit breaker has opened and refuses
 * calls itself ("circuit breaker is open" names neither).
 */
import { connect, createLockClient, LockBackendError } from '@dlock/lock-core';
import { freePort, rejectionOf } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { etcdBackend } from '../src/index.js';

describe('an unreachable etcd', () => {
  const expectConnectionFailure = (error: unknown, port: number) => {
    expect(error).toBeInstanceOf(LockBackendError);
    const message = (error as Error).message;
    expect(message).toContain('ECONNREFUSED');
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).not.toMatch(/circuit breaker/);
  };

  it('etcdBackend({ client }) reports ECONNREFUSED and the endpoint, on every call', async () => {
    const port = await freePort();
    const client = new Etcd3({ hosts: `http://127.0.0.1:${port}` });
    const locks = createLockClient(etcdBackend({ client, requestTimeoutMs: 2_000 }), {
      ttlMs: 2_000,
    });
    try {
      // The first calls open etcd3's circuit breaker (three failures); the later ones meet it.
      for (let i = 0; i < 4; i++) {
        expectConnectionFailure(await rejectionOf(locks.tryAcquire('k')), port);
      }
      expectConnectionFailure(
        await rejectionOf(locks.acquire('k', { waitTimeoutMs: 1_000 })),
        port,
      );
      expectConnectionFailure(await rejectionOf(locks.inspect('k')), port);
    } finally {
      await locks.close();
      client.close();
    }
  });

  it('connect("etcd://…") reports ECONNREFUSED and the endpoint', async () => {
    const port = await freePort();
    const locks = await connect(`etcd://127.0.0.1:${port}?requestTimeoutMs=2000`);
    try {
      for (let i = 0; i < 4; i++) {
        expectConnectionFailure(await rejectionOf(locks.acquire('k', { waitTimeoutMs: 0 })), port);
      }
    } finally {
      await locks.close();
    }
  });
});
