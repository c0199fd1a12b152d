import type { ElectionBackend } from '../backend.js';
import type { Client } from '../client.js';
import { monotonicNow } from '../clock.js';
import { reported } from '../diagnostics.js';
import { LockClosedError } from '../errors.js';
import { newOwnerToken } from '../owner.js';
import type { CampaignOptions, Election, LeaderInfo, Leadership, RunOptions } from '../types.js';
import { validateFunction, validateSignal } from '../validate.js';
import { campaignOptions, runOptions } from './election-options.js';
import type { CampaignValues } from './election-view.js';
import { LeadershipHandle } from './leadership.js';
import { leaderInfo, observeLeader } from './observe.js';

/**
 * `locks.election(name, { value })`: a name, a value, and the client's election engine (a client
 * on a view of the backend's election operations, shared by every election of the client: a
 * campaign waits, and a leadership renews and disposes, exactly as a lock does).
 */
export class ElectionHandle implements Election {
  constructor(
    readonly engine: Client,
    readonly election: ElectionBackend,
    readonly values: CampaignValues,
    readonly clientId: string,
    readonly name: string,
    readonly value: string,
    readonly ttlMs: number | undefined,
  ) {}

  async campaign(options?: CampaignOptions): Promise<Leadership> {
    const o = campaignOptions(options);
    // A fresh owner each time: a campaign never re-enters another one of this client (not even
    // from inside `run`), so two campaigns of one process are two candidates.
    const owner = newOwnerToken(this.clientId);
    this.values.set(owner, this.value);
    try {
      const lock = await this.engine.takeLease(
        'acquire',
        this.name,
        {
          ...o,
          owner,
          autoExtend: true,
          ...(this.ttlMs === undefined ? {} : { ttlMs: this.ttlMs }),
        },
        undefined,
      );
      return new LeadershipHandle(this.name, lock!, this.election, this.value);
    } finally {
      this.values.delete(owner);
    }
  }

  async leader(): Promise<LeaderInfo | null> {
    if (this.engine.closed) throw new LockClosedError();
    const start = monotonicNow();
    return leaderInfo(await this.election.leader(this.name), start);
  }

  observe(options?: { signal?: AbortSignal }): AsyncIterableIterator<LeaderInfo | null> {
    const signal = options?.signal === undefined ? undefined : validateSignal(options.signal);
    if (this.engine.closed) throw new LockClosedError();
    return observeLeader(
      { name: this.name, election: this.election, closeSignal: this.engine.closeSignal },
      signal,
    );
  }

  async run<T>(
    fn: (signal: AbortSignal, leadership: Leadership) => Promise<T> | T,
    options?: RunOptions,
  ): Promise<T> {
    validateFunction('run callback', fn);
    const { requeue, campaign } = runOptions(options);
    for (;;) {
      const leadership = await this.campaign(campaign);
      let outcome: { ok: true; value: T } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, value: await fn(leadership.signal, leadership) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      // Read before resigning: a resign ends the lease without aborting its signal.
      const lost = leadership.signal.aborted;
      if (outcome.ok) await leadership.resign();
      // The routine's error wins; a resign failure must not mask it (it goes to dlock:error).
      else
        await leadership
          .resign()
          .catch(reported('run: resign after the callback threw', this.name));
      if (!(requeue && lost)) {
        if (outcome.ok) return outcome.value;
        throw outcome.error;
      }
    }
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Election { name: ${JSON.stringify(this.name)}, value: ${JSON.stringify(this.value)} }`;
  }
}
