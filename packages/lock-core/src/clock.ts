/**
 * The clock every local deadline is measured on (lease expiry estimates, renewals, waits).
 *
 * `performance.now()` is CLOCK_MONOTONIC on Linux: a wall-clock step cannot move it, but it stops
 * while the machine is suspended (a laptop lid, a paused VM), so after a resume a lease that ran
 * out on the server would still look held. `Date.now()` keeps counting across a suspend but steps
 * with NTP. This clock advances with the monotonic clock and, whenever the wall clock has run
 * ahead of it by more than `SUSPEND_TOLERANCE_MS` since the last time they were compared, by the
 * wall clock's lead as well: a suspend (or a forward step of the wall clock) makes leases look
 * older, never younger. A backward wall step is ignored. So it never goes back, never runs slower
 * than the monotonic clock, and counts suspended time: the earlier of the two estimates wins.
 */
export interface LeaseClock {
  /** Milliseconds on this clock (an arbitrary origin). */
  now(): number;
}

/** Where a lease clock reads time; injectable so that tests can make one clock jump. */
export interface ClockSources {
  monotonic(): number;
  wall(): number;
}

/**
 * The wall clock's lead over the monotonic clock that counts as a suspend or a step rather than
 * the two clocks' rounding (Date.now() has whole milliseconds) or an NTP slew (at most 0.5 ms/s).
 */
export const SUSPEND_TOLERANCE_MS = 20;

export function createLeaseClock(sources: ClockSources): LeaseClock {
  let monoAnchor = sources.monotonic();
  let wallAnchor = sources.wall();
  let offset = 0;
  return {
    now() {
      const mono = sources.monotonic();
      const wall = sources.wall();
      const lead = wall - wallAnchor - (mono - monoAnchor);
      if (lead > SUSPEND_TOLERANCE_MS || lead < -SUSPEND_TOLERANCE_MS) {
        // Compare from here on, so rounding never accumulates and a backward step is forgotten.
        if (lead > 0) offset += lead;
        monoAnchor = mono;
        wallAnchor = wall;
      }
      return mono + offset;
    },
  };
}

// Read through on every call (not captured), so that fake timers in tests replace both sources.
const leaseClock = createLeaseClock({
  monotonic: () => performance.now(),
  wall: () => Date.now(),
});

/** Milliseconds on the lease clock: see `createLeaseClock`. */
export function monotonicNow(): number {
  return leaseClock.now();
}

/** A lease-clock time as milliseconds since the Unix epoch (for the user-facing `expiresAt`). */
export function toEpoch(time: number): number {
  return Math.round(Date.now() + (time - leaseClock.now()));
}
