import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { LockBackend } from '../backend.js';
import { LockClosedError } from '../errors.js';
import { eventually } from './kit.js';

/**
 * What both adapter-level suites share: a run id for unique keys, the TTL and per-test timeout
 * they derive from the adapter's `shortTtlMs`, and the backends they made (closed at the end).
 */
export function spiRun(options: {
  readonly shortTtlMs?: number | undefined;
  createBackend(): Promise<LockBackend> | LockBackend;
}) {
  const run = randomUUID().slice(0, 8);
  const shortTtl = options.shortTtlMs ?? 250;
  const backends = new Set<LockBackend>();
  return {
    run,
    shortTtl,
    timeoutMs: Math.max(20_000, shortTtl * 40),
    async backend(): Promise<LockBackend> {
      const created = await options.createBackend();
      backends.add(created);
      return created;
    },
    async closeAll(): Promise<void> {
      await Promise.allSettled([...backends].map((b) => b.close()));
      backends.clear();
    },
  };
}

/** Keys that look like code (quotes, Lua, SQL, globs, emoji), made unique to this test. */
export function codeLikeKeys(base: readonly string[], extra: readonly string[] = []): string[] {
  const suffix = randomUUID().slice(0, 8);
  return [...new Set([...base, ...extra])].map((k) => `${k}${suffix}`);
}

/** Every call rejects with `LockClosedError`, none throws synchronously. */
export async function assertClosedCalls(
  calls: readonly (readonly [string, () => Promise<unknown>])[],
): Promise<void> {
  for (const [operation, call] of calls) {
    let pending: Promise<unknown>;
    try {
      pending = call();
    } catch (error) {
      assert.fail(`${operation}() threw synchronously: ${String(error)}`);
    }
    await assert.rejects(pending, (e: unknown) => LockClosedError.isInstance(e), operation);
  }
}

/** What every adapter-level suite's context offers its parts. */
export interface SpiSuiteContext {
  readonly shortTtl: number;
  /** A fresh backend on the shared server state (closed after the run). */
  backend(): Promise<LockBackend>;
  /** A key unique to this run. */
  key(label: string): string;
  /** Registers a test with the suite's timeout. */
  test(name: string, fn: () => Promise<void>): void;
  /**
   * Lets `ttlMs` pass on the server (the fake clock, or real time) until `condition` holds;
   * fails if it does not.
   */
  lapse(ttlMs: number, what: string, condition: () => boolean | Promise<boolean>): Promise<void>;
}

/** `lapse` of {@link SpiSuiteContext}: the adapter's fake clock when it has one, else real time. */
export function lapser(
  advanceTime: ((ms: number) => void | Promise<void>) | undefined,
  timeoutMs: number,
): SpiSuiteContext['lapse'] {
  return async (ttlMs, what, condition) => {
    if (advanceTime) {
      await advanceTime(ttlMs + 1);
      assert.ok(await condition(), what);
    } else {
      await eventually(what, condition, Math.max(timeoutMs / 2, ttlMs * 10));
    }
  };
}
