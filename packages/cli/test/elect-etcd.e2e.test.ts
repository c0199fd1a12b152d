import { join } from 'node:path';
import {
  commandExists,
  type ManagedProcess,
  probeTcp,
  requireService,
  startProcess,
  waitUntil,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, FIXTURES, startDlock } from './dlock.js';

// dlock elect on an etcd:// URL is etcd's own election (`<prefix>elect/NAME`): the real
// `etcdctl elect -l` sees its leader, and an `etcdctl elect` candidate waits behind it and leads
// once it resigns.

const etcd = await requireService('etcd 127.0.0.1:2379', () => probeTcp('127.0.0.1', 2379));
const etcdctl = await requireService('the etcdctl binary', async () => {
  if (!(await commandExists('etcdctl'))) throw new Error('etcdctl is not on PATH');
});
const LONG = join(FIXTURES, 'long-running.mjs');

describe.skipIf(!etcd.available || !etcdctl.available)(
  'dlock elect on etcd and etcdctl elect',
  () => {
    const prefix = `dlock-test/cli-elect/${Math.random().toString(36).slice(2, 10)}/`;
    const env = {
      ...process.env,
      DLOCK_URL: `etcd://127.0.0.1:2379?prefix=${encodeURIComponent(prefix)}`,
    };
    const processes: ManagedProcess[] = [];
    beforeAll(() => assertBuilt());
    afterAll(async () => {
      await Promise.all(processes.map((p) => p.stop('SIGTERM')));
    });
    const etcdctlElect = async (args: readonly string[]) => {
      const proc = await startProcess({
        name: `etcdctl elect ${args.join(' ')}`,
        command: 'etcdctl',
        args: ['--endpoints', 'http://127.0.0.1:2379', 'elect', ...args],
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      processes.push(proc);
      return proc;
    };

    /** The election's candidate keys, as etcd's Election sees them (`etcdctl get --prefix`). */
    const candidates = async (election: string) => {
      const get = await startProcess({
        name: `etcdctl get ${election}/`,
        command: 'etcdctl',
        args: [
          '--endpoints',
          'http://127.0.0.1:2379',
          'get',
          '--prefix',
          '--keys-only',
          `${election}/`,
        ],
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      await get.exited;
      return get.stdoutLines().filter((line) => line !== '');
    };

    it('etcdctl elect -l sees the dlock leader; etcdctl elect waits and leads after dlock resigns', async () => {
      const name = 'scheduler';
      const election = `${prefix}elect/${name}`;
      const leader = await startDlock(
        ['elect', name, '--value', 'web-1:8080', '--', process.execPath, LONG],
        { env, readyWhen: /ready token=\d+/ },
      );
      processes.push(leader);
      const observer = await etcdctlElect(['-l', election]);
      await observer.waitForOutput(/web-1:8080/, 10_000);
      const next = await etcdctlElect([election, 'web-2:8080']);
      const leads = () => next.stdoutLines().some((line) => line.startsWith(`${election}/`));
      // etcdctl queued behind dlock: it prints its key only once it leads.
      await waitUntil(async () => (await candidates(election)).length === 2, {
        message: 'etcdctl queued',
      });
      expect(leads()).toBe(false);
      // SIGTERM: dlock ends COMMAND and resigns.
      await leader.stop('SIGTERM');
      await waitUntil(leads, {
        timeoutMs: 10_000,
        message: 'etcdctl elect leads after the resign',
      });
      await observer.waitForOutput(/web-2:8080/, 10_000);
      await next.stop('SIGTERM');
      await observer.stop('SIGTERM');
    }, 60_000);
  },
);
