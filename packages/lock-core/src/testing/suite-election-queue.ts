import assert from 'node:assert/strict';
import {
  campaignRequest as campaign,
  type ElectionSpiContext,
  granted,
  newOwner,
  refused,
} from './election-spi-context.js';

/**
 * Candidates that wait: the queue (where the backend keeps one), `abandon`, waiter leases, and
 * the server's own wait (`waitCampaign`).
 */
export function electionQueueSuite(ctx: ElectionSpiContext): void {
  const { test, options } = ctx;

  test('abandon of a candidate that never queued resolves false and changes nothing', async () => {
    const e = await ctx.election();
    if (!e) return;
    const k = ctx.key('abandon-none');
    const leader = campaign(k);
    granted(await e.campaign(leader));
    assert.equal(await e.abandon({ key: k, owner: newOwner() }), false);
    assert.equal(await e.abandon(leader), false, 'abandon never touches the leader');
    assert.equal((await e.leader(k))?.owner, leader.owner);
    await e.resign(leader);
  });

  test('a queued candidate refreshes its place by asking again and is refused while the leader lives', async () => {
    const e = await ctx.election();
    if (!e) return;
    const k = ctx.key('queue-refresh');
    const leader = campaign(k);
    granted(await e.campaign(leader));
    const waiting = campaign(k, newOwner(), { queue: true, ttlMs: 3_000 });
    const first = await e.campaign(waiting);
    refused(first);
    if (!first.acquired && first.retryAfterMs !== undefined && options.candidateQueue) {
      assert.ok(
        first.retryAfterMs <= 1_000,
        'a queued refusal re-checks within a third of its lease',
      );
    }
    refused(await e.campaign(waiting), 'asked again');
    await e.abandon(waiting);
    await e.resign(leader);
  });

  test('candidates are granted in arrival order (candidate queue)', async () => {
    const a = await ctx.election();
    const b = await ctx.election();
    if (!a || !b || !options.candidateQueue) return;
    const k = ctx.key('fifo');
    const leader = campaign(k);
    granted(await a.campaign(leader));
    const early = campaign(k, newOwner(), { queue: true });
    const late = campaign(k, newOwner(), { queue: true });
    refused(await a.campaign(early));
    refused(await b.campaign(late));
    assert.equal(await a.resign(leader), 'released');
    refused(await b.campaign(late), 'the later candidate cannot pass the earlier one');
    refused(await b.campaign(campaign(k)), 'nor can a newcomer');
    granted(await a.campaign(early), 'the earliest candidate leads next');
    assert.equal(await a.resign(early), 'released');
    granted(await b.campaign(late), 'then the next');
    await b.resign(late);
  });

  test('an abandoned candidate leaves nothing: the next one is granted at once', async () => {
    const a = await ctx.election();
    const b = await ctx.election();
    if (!a || !b) return;
    const k = ctx.key('abandon');
    const leader = campaign(k);
    granted(await a.campaign(leader));
    const quitter = campaign(k, newOwner(), { queue: true });
    refused(await b.campaign(quitter));
    const had = await b.abandon(quitter);
    if (options.candidateQueue) assert.equal(had, true, 'the entry was there');
    assert.equal(await b.abandon(quitter), false, 'abandon is idempotent');
    assert.equal(await a.resign(leader), 'released');
    const next = campaign(k);
    granted(await b.campaign(next), 'nobody stands in the way');
    await b.resign(next);
  });

  test('a candidate whose waiter lease lapsed is not granted from it and does not block others', async () => {
    const a = await ctx.election();
    const b = await ctx.election();
    if (!a || !b) return;
    const k = ctx.key('lapsed');
    const leader = campaign(k);
    granted(await a.campaign(leader));
    const gone = campaign(k, newOwner(), { queue: true, ttlMs: ctx.shortTtl });
    refused(await b.campaign(gone));
    // The candidate never asks again (a dead process): its entry blocks only until it lapses.
    assert.equal(await a.resign(leader), 'released');
    const next = campaign(k);
    if (options.candidateQueue) refused(await a.campaign(next), 'the live entry is ahead');
    let grant: Awaited<ReturnType<typeof a.campaign>> | undefined;
    await ctx.lapse(
      ctx.shortTtl,
      'the next candidate is granted once the entry lapsed',
      async () => {
        grant = await a.campaign(next);
        return grant.acquired;
      },
    );
    granted(grant!);
    // Asking again, the lapsed candidate starts afresh at the back: behind one who queued since.
    const later = campaign(k, newOwner(), { queue: true });
    refused(await a.campaign(later));
    refused(await b.campaign(gone), 'the lapsed candidate asks afresh, behind the leader');
    assert.equal(await a.resign(next), 'released');
    if (options.candidateQueue) {
      refused(await b.campaign(gone), 'behind the candidate that queued before it asked again');
      granted(await a.campaign(later), 'the earlier live candidate leads');
      assert.equal(await a.resign(later), 'released');
    } else {
      await a.abandon(later);
    }
    await b.abandon(gone);
  });

  test('waitCampaign resolves after the leader resigns; abort leaves no candidate behind', async () => {
    const a = await ctx.election();
    const b = await ctx.election();
    if (!a?.waitCampaign || !b?.waitCampaign) return;
    const k = ctx.key('native');
    const leader = campaign(k);
    granted(await a.campaign(leader));
    const controller = new AbortController();
    const waiter = campaign(k, newOwner(), { queue: true });
    const pending = b.waitCampaign({ ...waiter, timeoutMs: 60_000, signal: controller.signal });
    await a.resign(leader);
    const grant = await pending;
    granted(grant, 'granted once the leader resigned');
    assert.equal((await a.leader(k))?.owner, waiter.owner);
    // A second wait, aborted: nothing of it stays.
    const aborter = new AbortController();
    const quitter = campaign(k, newOwner(), { queue: true });
    const aborted = a.waitCampaign({ ...quitter, timeoutMs: 60_000, signal: aborter.signal });
    aborter.abort(new Error('stop'));
    await assert.rejects(aborted);
    assert.equal(await b.resign(waiter), 'released');
    const next = campaign(k);
    granted(await a.campaign(next), 'the aborted candidate left nothing');
    assert.equal((await a.leader(k))?.owner, next.owner);
    await a.resign(next);
  });
}
