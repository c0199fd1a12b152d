// The core side of semaphores and read-write locks: the engines (clients on a lease view of the
// backend's shared-key operations), checked on the memory backend with its shared calls logged.
import { describe, expect, it } from 'vitest';
import {
  createLockClient,
  LockArgumentError,
  type LockBackend,
  LockClosedError,
  LockTimeoutError,
  LockUnsupportedError,
  LockUpgradeError,
  memoryBackend,
} from '../src/index.js';
import type { SharedBackend } from '../src/spi.js';

/** The memory backend with every shared-key call logged as `<method> <kind|family> <key>`. */
function loggedBackend(overrides: Partial<SharedBackend['capabilities']> = {}) {
  const inner = memoryBackend();
  const shared = inner.shared!;
  const log: string[] = [];
  const backend: LockBackend = {
    ...inner,
    shared: {
      ...shared,
      capabilities: { ...shared.capabilities, ...overrides },
      tryAcquire: (r) => {
        log.push(`tryAcquire ${r.kind} ${r.key}${r.queue ? ' queue' : ''}`);
        return shared.tryAcquire(r);
      },
      release: (r) => {
        log.push(`release ${r.kind} ${r.key}`);
        return shared.release(r);
      },
      abandon: (r) => {
        log.push(`abandon ${r.kind} ${r.key}`);
        return shared.abandon(r);
      },
    },
  };
  return { backend, log };
}

describe('semaphore() and readWriteLock()', () => {
  it('refuse a backend without shared keys at once, before any I/O', async () => {
    const { shared: _none, ...mutexOnly } = memoryBackend();
    const locks = createLockClient(mutexOnly as LockBackend);
    expect(() => locks.semaphore('s', { limit: 2 })).toThrow(LockUnsupportedError);
    expect(() => locks.readWriteLock('rw')).toThrow(LockUnsupportedError);
    await locks.close();
  });

  it('refuse a limit above what the backend can give safely, explaining why', async () => {
    const { backend, log } = loggedBackend({ maxSemaphoreLimit: 1 });
    const locks = createLockClient(backend);
    let error: unknown;
    try {
      locks.semaphore('s', { limit: 2 });
    } catch (e) {
      error = e;
    }
    expect(LockUnsupportedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/AB, BC and AC/);
    const one = locks.semaphore('s', { limit: 1 });
    await (await one.acquire()).release();
    expect(log[0]).toBe('tryAcquire semaphore s queue');
    await locks.close();
  });

  it('check limit, permits and options with LockArgumentError before any I/O', async () => {
    const { backend, log } = loggedBackend();
    const locks = createLockClient(backend);
    for (const bad of [undefined, {}, { limit: 0 }, { limit: 1.5 }, { limit: 2, lmit: 3 }]) {
      expect(() => locks.semaphore('s', bad as never)).toThrow(LockArgumentError);
    }
    expect(() => locks.semaphore('', { limit: 2 })).toThrow(LockArgumentError);
    const sem = locks.semaphore('s', { limit: 2 });
    await expect(sem.acquire({ permits: 3 })).rejects.toThrow(LockArgumentError);
    await expect(sem.tryAcquire({ permits: 0 })).rejects.toThrow(LockArgumentError);
    await expect(sem.using(async () => {}, { permits: 'two' as never })).rejects.toThrow(
      LockArgumentError,
    );
    await expect(sem.acquire({ permit: 1 } as never)).rejects.toThrow(LockArgumentError);
    expect(log).toEqual([]);
    await locks.close();
  });

  it('take several permits at once and report them', async () => {
    const locks = createLockClient(memoryBackend(), { clientId: 'worker-1' });
    const sem = locks.semaphore('s', { limit: 3 });
    const two = await sem.acquire({ permits: 2 });
    expect(two.permits).toBe(2);
    expect(await sem.tryAcquire({ permits: 2 })).toBeNull();
    const info = await sem.inspect();
    expect(info).toMatchObject({ key: 's', limit: 3, available: 1 });
    expect(info.holders).toEqual([
      expect.objectContaining({ holder: 'worker-1', permits: 2, count: 1 }),
    ]);
    expect(await two.release()).toBe(true);
    expect(await two.release()).toBe(false);
    expect((await sem.inspect()).available).toBe(3);
    await locks.close();
  });

  it('let the next local waiter ask at once after a grant that left room', async () => {
    const locks = createLockClient(memoryBackend());
    const sem = locks.semaphore('s', { limit: 2 });
    const both = await sem.acquire({ permits: 2 });
    const b = sem.acquire({ waitTimeoutMs: 5_000 });
    const c = sem.acquire({ waitTimeoutMs: 5_000 });
    await both.release();
    // One release frees room for both: were C to wait for B's release, it would time out.
    const [pb, pc] = await Promise.all([b, c]);
    expect(pb.fencingToken).not.toBe(pc.fencingToken);
    await pb.release();
    await pc.release();
    await locks.close();
  });

  it('refuse an upgrade inside read.using at once, without asking the backend', async () => {
    const { backend, log } = loggedBackend();
    const locks = createLockClient(backend);
    const rw = locks.readWriteLock('doc');
    await rw.read.using(async () => {
      const asked = log.length;
      await expect(rw.write.acquire()).rejects.toSatisfy(LockUpgradeError.isInstance);
      await expect(rw.write.tryAcquire()).rejects.toSatisfy(LockUpgradeError.isInstance);
      expect(log.length).toBe(asked);
    });
    await locks.close();
  });

  it('grant a downgrade inside write.using, the read outliving the write', async () => {
    const locks = createLockClient(memoryBackend());
    const rw = locks.readWriteLock('doc');
    const write = await rw.write.acquire();
    let read: Awaited<ReturnType<typeof rw.read.acquire>> | undefined;
    expect(await rw.read.tryAcquire()).toBeNull(); // another owner's read: excluded
    await write.release();
    await rw.write.using(async (_signal, w) => {
      read = await rw.read.acquire();
      expect(read.fencingToken >= w.fencingToken).toBe(true);
    });
    const info = await rw.inspect();
    expect(info.writer).toBeNull();
    expect(info.readers).toHaveLength(1);
    // Still a reader: another writer cannot get in.
    expect(await rw.write.tryAcquire()).toBeNull();
    await read!.release();
    expect(await rw.write.tryAcquire()).not.toBeNull();
    await locks.close();
  });

  it('drop the queue entry of a wait given up', async () => {
    const { backend, log } = loggedBackend();
    const locks = createLockClient(backend);
    const sem = locks.semaphore('s', { limit: 1 });
    const held = await sem.acquire();
    const controller = new AbortController();
    const waiting = sem.acquire({ signal: controller.signal });
    await expect.poll(() => log.filter((l) => l.startsWith('tryAcquire')).length).toBe(2);
    expect((await sem.inspect()).waiters).toBe(1);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    await expect.poll(() => log.includes('abandon semaphore s')).toBe(true);
    expect((await sem.inspect()).waiters ?? 0).toBe(0);
    await expect(sem.acquire({ waitTimeoutMs: 20 })).rejects.toSatisfy(LockTimeoutError.isInstance);
    await expect.poll(() => log.filter((l) => l === 'abandon semaphore s').length).toBe(2);
    await held.release();
    await locks.close();
  });

  it('end waits and free permits when the client closes', async () => {
    const { backend, log } = loggedBackend();
    const locks = createLockClient(backend);
    const sem = locks.semaphore('s', { limit: 1 });
    const held = await sem.acquire();
    const waiting = sem.acquire();
    await locks.close();
    await expect(waiting).rejects.toSatisfy(LockClosedError.isInstance);
    expect(held.held).toBe(false);
    expect(log).toContain('release semaphore s');
    expect(() => locks.semaphore('s', { limit: 1 })).toThrow(LockClosedError);
  });
});
