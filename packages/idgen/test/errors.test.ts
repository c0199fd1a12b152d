import { describe, expect, it } from 'vitest';
import {
  ClockMovedBackwardsError,
  IdGenArgumentError,
  IdGenBackendError,
  IdGenClosedError,
  IdGenError,
  IdOverflowError,
  WorkerIdLostError,
  WorkerIdUnavailableError,
} from '../src/index.js';

describe('errors', () => {
  const cases: [IdGenError, string, { isInstance(e: unknown): boolean }][] = [
    [new IdGenArgumentError('bad'), 'IDGEN_ARGUMENT', IdGenArgumentError],
    [new ClockMovedBackwardsError(10, 5), 'IDGEN_CLOCK_BACKWARDS', ClockMovedBackwardsError],
    [new IdOverflowError('full'), 'IDGEN_OVERFLOW', IdOverflowError],
    [new WorkerIdLostError(3), 'IDGEN_WORKER_ID_LOST', WorkerIdLostError],
    [new WorkerIdUnavailableError('p', 4), 'IDGEN_WORKER_ID_UNAVAILABLE', WorkerIdUnavailableError],
    [new IdGenBackendError('op', new Error('driver')), 'IDGEN_BACKEND', IdGenBackendError],
    [new IdGenClosedError('thing'), 'IDGEN_CLOSED', IdGenClosedError],
  ];

  it.each(cases)('%s has a stable code and a brand-based isInstance', (error, code, cls) => {
    expect(error.code).toBe(code);
    expect(error.name).toBe(error.constructor.name);
    expect(cls.isInstance(error)).toBe(true);
    expect(IdGenError.isInstance(error)).toBe(true);
    // Another installed copy of the package: same brand, different class identity.
    const foreign = Object.assign(Object.create(Error.prototype), { code });
    Object.defineProperty(foreign, Symbol.for('@dlock/idgen/error'), { value: true });
    expect(cls.isInstance(foreign)).toBe(true);
    expect(cls.isInstance(new Error(code))).toBe(false);
    for (const [other, otherCode, otherCls] of cases) {
      if (otherCode !== code) expect(otherCls.isInstance(error)).toBe(other === error);
    }
  });

  it('keeps the driver error as cause', () => {
    const cause = new Error('ECONNRESET');
    const error = new IdGenBackendError('redisSegment(k)', cause);
    expect(error.cause).toBe(cause);
    expect(error.message).toContain('ECONNRESET');
    expect(new IdGenBackendError('op', 'text').message).toContain('text');
  });
});
