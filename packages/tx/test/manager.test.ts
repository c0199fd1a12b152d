import { channel } from 'node:diagnostics_channel';
import { createLockClient, MemoryStore, memoryBackend } from '@dlock/lock-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createTransactionManager,
  memoryTxLog,
  type SagaStep,
  TxArgumentError,
  TxClosedError,
  TxError,
} from '../src/index.js';

const noIo = { getConnection: () => Promise.reject(new Error('no I/O expected')) };

describe('createTransactionManager: arguments', () => {
  it('rejects bad options before any I/O', () => {
    expect(() => createTransactionManager(undefined as never)).toThrow(TxArgumentError);
    expect(() => createTransactionManager({ log: {} as never })).toThrow(/TxLog/);
    const log = memoryTxLog();
    expect(() => createTransactionManager({ log, timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => createTransactionManager({ log, gidPrefix: 'a.b' })).toThrow(/gidPrefix/);
    expect(() => createTransactionManager({ log, resources: { a: {} as never } })).toThrow(
      /resources\.a/,
    );
    expect(() =>
      createTransactionManager({
        log,
        participants: [{ name: 'x', action: () => 1 } as unknown as SagaStep<never>],
      }),
    ).toThrow(/compensate/);
  });

  it('refuses a branch on a pool that is not a configured resource, and rolls back', async () => {
    const tm = createTransactionManager({ log: memoryTxLog(), recoveryIntervalMs: false });
    await expect(tm.xa(async (tx) => tx.branch(noIo, async () => 1))).rejects.toSatisfy(
      (e: unknown) => TxError.isInstance(e) && /resources/.test(String((e as Error).cause)),
    );
    await expect(tm.saga([])).rejects.toThrow(TxArgumentError);
    await expect(tm.status('')).rejects.toThrow(TxArgumentError);
    await tm.close();
  });

  it('two participants with one name are refused', async () => {
    const tm = createTransactionManager({ log: memoryTxLog(), recoveryIntervalMs: false });
    const step = (): SagaStep<never> => ({ name: 'same', action: () => 1, compensate: () => 1 });
    await tm.saga([step()]);
    await expect(tm.saga([step()])).rejects.toThrow(/two different participants/);
    await tm.close();
  });

  it('errors carry stable codes and isInstance', () => {
    const e = new TxClosedError();
    expect(e.code).toBe('DLOCK_TX_CLOSED');
    expect(TxClosedError.isInstance(e)).toBe(true);
    expect(TxArgumentError.isInstance(e)).toBe(false);
    expect(TxError.isInstance(new Error('x'))).toBe(false);
  });
});

describe('the background recovery loop', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sweeps on its interval, only while it holds the recovery lock, and leaves no timer after close', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const log = memoryTxLog();
    const due = vi.spyOn(log, 'due');
    const store = new MemoryStore();
    const locksA = createLockClient(memoryBackend({ store }));
    const locksB = createLockClient(memoryBackend({ store }));
    const held = await locksB.acquire('dlock-tx:recovery', { ttlMs: 60_000 });
    const tm = createTransactionManager({ log, locks: locksA, recoveryIntervalMs: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(due).not.toHaveBeenCalled();
    await held.release();
    await vi.advanceTimersByTimeAsync(1000);
    await vi.waitFor(() => expect(due).toHaveBeenCalledTimes(1));
    await tm.close();
    expect(vi.getTimerCount()).toBe(0);
    await expect(tm.xa(async () => 1)).rejects.toSatisfy(TxClosedError.isInstance);
    await locksA.close();
    await locksB.close();
  });

  it('reports a failing sweep on dlock:error instead of throwing', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const log = memoryTxLog();
    vi.spyOn(log, 'due').mockRejectedValue(new Error('log down'));
    const seen: unknown[] = [];
    const listener = (m: unknown) => seen.push(m);
    channel('dlock:error').subscribe(listener);
    const tm = createTransactionManager({ log, recoveryIntervalMs: 500 });
    await vi.advanceTimersByTimeAsync(500);
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    expect(seen[0]).toMatchObject({ where: 'tx:recovery-sweep' });
    channel('dlock:error').unsubscribe(listener);
    await tm.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('saga recovery', () => {
  it('a saga whose coordinator died is compensated by another manager from the log', async () => {
    const log = memoryTxLog();
    const journal: string[] = [];
    let wake: () => void = () => {};
    const steps: SagaStep<never>[] = [
      {
        name: 'a',
        action: () => void journal.push('do a'),
        compensate: () => void journal.push('undo a'),
      },
      {
        name: 'b',
        action: () =>
          new Promise<void>((resolve) => {
            journal.push('start b');
            wake = resolve;
          }),
        compensate: () => void journal.push('undo b'),
      },
    ];
    const dead = createTransactionManager({ log, recoveryIntervalMs: false, timeoutMs: 20 });
    const left = dead.saga(steps);
    await vi.waitFor(() => expect(journal).toEqual(['do a', 'start b']));
    const rescuer = createTransactionManager({
      log,
      recoveryIntervalMs: false,
      participants: steps,
    });
    await vi.waitFor(async () => expect((await rescuer.recover()).aborted).toHaveLength(1));
    // b's outcome was unknown (started, not recorded): it is compensated too, then a.
    expect(journal).toEqual(['do a', 'start b', 'undo b', 'undo a']);
    wake();
    await expect(left).rejects.toThrow(/compensated/);
    await dead.close();
    await rescuer.close();
  });
});

describe('an XA transaction without branches', () => {
  it('resolves the callback and logs nothing', async () => {
    const log = memoryTxLog();
    const tm = createTransactionManager({ log, recoveryIntervalMs: false });
    let gid = '';
    expect(
      await tm.xa(async (tx) => {
        gid = tx.gid;
        return 7;
      }),
    ).toBe(7);
    expect(log.records.size).toBe(0);
    expect(await tm.status(gid)).toBeNull();
    await tm.close();
  });
});

describe('awaitPhaseTwo: false for TCC', () => {
  it('resolves at the decision, says committing until the confirms ran, and close() waits for them', async () => {
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const confirmed: string[] = [];
    const branch = {
      name: 'gated',
      try: () => undefined,
      confirm: async (ctx: { branch: string }) => {
        await gate;
        confirmed.push(ctx.branch);
      },
      cancel: () => undefined,
    };
    const log = memoryTxLog();
    const tm = createTransactionManager({ log, recoveryIntervalMs: false, awaitPhaseTwo: false });
    let gid = '';
    await tm.tcc(async (tx) => {
      gid = tx.gid;
      await tx.try(branch, 1);
      await tx.try(branch, 2);
    });
    expect((await tm.status(gid))?.state).toBe('committing');
    expect(confirmed).toEqual([]);
    open();
    await tm.close();
    expect(confirmed.sort()).toEqual(['01', '02']);
    expect(log.records.get(gid)?.state).toBe('committed');
  });
});
