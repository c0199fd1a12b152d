import { describe, expect, it } from 'vitest';
import { connectWith } from '../src/connect.js';
import { connect, LockArgumentError, memoryBackend } from '../src/index.js';

describe('connect', () => {
  it('builds a memory client from memory:', async () => {
    const client = await connect('memory:', { ttlMs: 1_000 });
    const lock = await client.acquire('k');
    expect(lock.fencingToken).toBe(1n);
    await client.close();
  });

  it('names the package to install when an adapter is missing', async () => {
    for (const [url, pkg] of [
      ['redis://127.0.0.1:6379', '@dlock/lock-redis'],
      ['rediss://127.0.0.1:6380', '@dlock/lock-redis'],
      ['mysql://root@127.0.0.1/test', '@dlock/lock-mysql'],
      ['etcd://127.0.0.1:2379', '@dlock/lock-etcd'],
    ] as const) {
      const error = await connect(url).catch((e: unknown) => e);
      expect(LockArgumentError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(`npm install ${pkg}`);
    }
  });

  it('resolves the adapter by dynamic import and passes the URL and backend options', async () => {
    const calls: [string, URL, Record<string, unknown>][] = [];
    const importer = async (specifier: string) => ({
      connectBackend: async (url: URL, options: Record<string, unknown>) => {
        calls.push([specifier, url, options]);
        return memoryBackend();
      },
    });
    const client = await connectWith(importer, 'redis://user:pw@127.0.0.1:6390/2', {
      ttlMs: 500,
      backend: { prefix: 'p:' },
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toBe('@dlock/lock-redis');
    expect(calls[0]![1].port).toBe('6390');
    expect(calls[0]![2]).toEqual({ prefix: 'p:' });
    await (await client.acquire('k')).release();
    await client.close();
  });

  it('rejects bad URLs, unknown schemes and adapters without connectBackend', async () => {
    await expect(connect('')).rejects.toSatisfy(LockArgumentError.isInstance);
    await expect(connect('not a url')).rejects.toSatisfy(LockArgumentError.isInstance);
    await expect(connect('ftp://x')).rejects.toThrow(/Unsupported lock URL scheme/);
    await expect(connectWith(async () => ({}), 'etcd://x')).rejects.toThrow(/connectBackend/);
    const boom = Object.assign(new Error('boom inside the adapter'), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    await expect(
      connectWith(async () => {
        throw boom;
      }, 'etcd://x'),
    ).rejects.toBe(boom);
  });

  it('closes the backend if the client options are bad', async () => {
    let closed = false;
    const importer = async () => ({
      connectBackend: async () => ({
        ...memoryBackend(),
        close: async () => {
          closed = true;
        },
      }),
    });
    await expect(connectWith(importer, 'mysql://x', { ttlMs: -1 })).rejects.toSatisfy(
      LockArgumentError.isInstance,
    );
    expect(closed).toBe(true);
  });
});
