const abortedOf = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;
const reasonOf = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'reason')!.get!;

/**
 * The signal of `controller`, made to answer from the present: each read of `aborted` or `reason`
 * and each `throwIfAborted()` first calls `settle()`, which aborts the controller if the lease has
 * run out by now. Without this, a signal aborts only when a timer gets to run; after a freeze (a
 * GC pause, SIGSTOP, a suspended VM) the first code to resume is often an I/O callback, which runs
 * before the timers phase of the event loop and would read a lost lock as held.
 *
 * It stays a genuine AbortSignal (own accessors on the instance, not a subclass or a proxy), so
 * `fetch`, `AbortSignal.any`, `events.addAbortListener` and the stream APIs accept it, and those
 * read `aborted` through the accessor too. Listeners still hear the abort only once it happened:
 * at the first read, or when the watchdog's timer runs, whichever comes first.
 */
export function liveSignal(controller: AbortController, settle: () => void): AbortSignal {
  const signal = controller.signal;
  Object.defineProperties(signal, {
    aborted: {
      configurable: true,
      get() {
        settle();
        return abortedOf.call(signal);
      },
    },
    reason: {
      configurable: true,
      get() {
        settle();
        return reasonOf.call(signal);
      },
    },
    throwIfAborted: {
      configurable: true,
      writable: true,
      value() {
        settle();
        if (abortedOf.call(signal)) throw reasonOf.call(signal);
      },
    },
  });
  return signal;
}
