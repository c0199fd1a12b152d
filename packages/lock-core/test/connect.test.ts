import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectWith } from '../src/connect.js';
import { connect, LockArgumentError, memoryBackend } from '../src/index.js';

describe('connect', () => {
  it('builds a memory client from memory:', async () => {
    const client = await connect('memory:', { ttlMs: 1_000 });
    const lock = await client.acquire('k');
    // Tokens are floored at the wall clock in microseconds.
    expect(lock.fencingToken).toBeGreaterThanOrEqual(BigInt(Date.now() - 60_000) * 1000n);
    await client.close();
  });

  it('names the package to install when an adapter is missing', () => {
    // Run the built package in a plain Node process from an empty folder: the test runner's own
    // module resolution (and the NODE_PATH pnpm's shims set) would find the workspace's siblings.
    const dist = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'index.js')).href;
    const script = `
      const { connect } = await import(${JSON.stringify(dist)});
      const out = [];
      for (const url of ['redis://127.0.0.1:6379', 'rediss://127.0.0.1:6380', 'mysql://root@127.0.0.1/test', 'etcd://127.0.0.1:2379']) {
        const e = await connect(url).then(() => ({}), (error) => error);
        out.push([e.code, e.message]);
      }
      console.log(JSON.stringify(out));`;
    const cwd = mkdtempSync(join(tmpdir(), 'dlock-connect-'));
    try {
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd,
        encoding: 'utf8',
        env: { ...process.env, NODE_PATH: '' },
      });
      const results = JSON.parse(out) as [string, string][];
      const pkgs = [
        '@dlock/lock-redis',
        '@dlock/lock-redis',
        '@dlock/lock-mysql',
        '@dlock/lock-etcd',
      ];
      results.forEach(([code, message], i) => {
        expect(code).toBe('DLOCK_ARGUMENT');
        expect(message).toContain(`npm install ${pkgs[i]}`);
      });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
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

  it.each([
    ['redis+cluster:127.0.0.1:7000,127.0.0.1:7001', "connect('redis+cluster:…')"],
    ['rediss://127.0.0.1:6380', "connect('rediss://…')"],
  ])('names the package to install for %s', async (url, shown) => {
    const missing = Object.assign(new Error("Cannot find package '@dlock/lock-redis'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const error = await connectWith(async () => {
      throw missing;
    }, url).catch((e: unknown) => e);
    expect(LockArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(shown);
    expect((error as Error).message).toContain('npm install @dlock/lock-redis ioredis');
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

describe('connect adapter resolution', () => {
  it('finds an adapter installed in the project of the current directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlock-connect-'));
    const pkg = join(dir, 'node_modules', '@dlock', 'lock-etcd');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{"name":"app","type":"module"}');
    writeFileSync(
      join(pkg, 'package.json'),
      '{"name":"@dlock/lock-etcd","type":"module","exports":"./index.js"}',
    );
    writeFileSync(
      join(pkg, 'index.js'),
      "export async function connectBackend(url) { globalThis.__dlockConnected = url.href; return (await import('@dlock/lock-core')).memoryBackend(); }",
    );
    // The fake adapter imports lock-core itself: link the real one into the temp project.
    symlinkSync(
      join(import.meta.dirname, '..'),
      join(dir, 'node_modules', '@dlock', 'lock-core'),
      'dir',
    );
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const client = await connect('etcd://127.0.0.1:2379');
      expect((globalThis as { __dlockConnected?: string }).__dlockConnected).toBe(
        'etcd://127.0.0.1:2379',
      );
      await client.close();
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('urlSettings', () => {
  it('reads listed settings from the query over the options, and parses numbers', async () => {
    const { urlSettings } = await import('../src/spi.js');
    const url = new URL('redis://h:1?prefix=app:&commandTimeoutMs=250&family=6');
    expect(
      urlSettings(
        url,
        { prefix: 'ignored', waitForReplicas: 2, tls: {} },
        {
          strings: ['prefix'],
          numbers: ['commandTimeoutMs', 'waitForReplicas'],
          options: ['tls'],
          query: ['family'],
        },
      ),
    ).toEqual({
      prefix: 'app:',
      commandTimeoutMs: 250,
      waitForReplicas: 2,
    });
    expect(() =>
      urlSettings(
        new URL('redis://h?commandTimeoutMs=soon'),
        {},
        { numbers: ['commandTimeoutMs'] },
      ),
    ).toThrow(LockArgumentError);
  });

  it('refuses a query parameter or an option nobody listed, naming it and the known ones', async () => {
    const { urlSettings } = await import('../src/spi.js');
    const names = { strings: ['prefix'], numbers: ['commandTimeoutMs'], query: ['tlsCa'] };
    expect(() => urlSettings(new URL('redis://h?prefx=app:'), {}, names)).toThrow(
      /unknown URL's query parameter "prefx"; known: prefix, commandTimeoutMs, tlsCa/,
    );
    // A query-only name is not an option, and an option-only name is not a query parameter.
    expect(() => urlSettings(new URL('redis://h'), { tlsCa: 'x' }, names)).toThrow(
      /unknown option "tlsCa"; known: prefix, commandTimeoutMs$/,
    );
    expect(() => urlSettings(new URL('redis://h'), { prefx: 'a' }, names)).toThrow(
      LockArgumentError,
    );
  });
});

describe('connect: unknown options', () => {
  it('refuses unknown client options and unknown memory backend options before any I/O', async () => {
    await expect(connect('memory:', { ttl: 5 } as never)).rejects.toThrow(
      /Unknown option "ttl" for createLockClient; known options: ttlMs,/,
    );
    await expect(connect('memory:', { backend: { stor: 1 } })).rejects.toThrow(
      /Unknown option "stor" for memoryBackend; known options: store, clock/,
    );
  });
});
