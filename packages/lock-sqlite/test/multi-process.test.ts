import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, spawnNodeWorker } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const WORKERS = 6;
const SECTIONS = 25;
const worker = fileURLToPath(new URL('./fixtures/exclusion-worker.ts', import.meta.url));

describe('sqlite backend across processes', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    dir = await makeTempDir('dlock-sqlite-mp-');
  });
  afterAll(() => dir.remove());

  it(`excludes ${WORKERS} processes on one file, with fencing tokens in grant order`, async () => {
    writeFileSync(join(dir.path, 'counter'), '0');
    const db = join(dir.path, 'locks.db');
    const workers = await Promise.all(
      Array.from({ length: WORKERS }, (_, i) =>
        spawnNodeWorker(worker, { name: `worker ${i}`, args: [db, dir.path, String(SECTIONS)] }),
      ),
    );
    const exits = await Promise.all(workers.map((w) => w.exited));
    for (const [i, exit] of exits.entries()) {
      expect(exit, `worker ${i} output:\n${workers[i]!.output()}`).toEqual({
        code: 0,
        signal: null,
      });
    }
    const reports = workers.map((w) => JSON.parse(w.stdoutLines().at(-1)!));
    expect(reports.reduce((n, r) => n + r.overlaps, 0)).toBe(0);
    expect(Number(readFileSync(join(dir.path, 'counter'), 'utf8'))).toBe(WORKERS * SECTIONS);
    const tokens = readFileSync(join(dir.path, 'tokens'), 'utf8').trim().split('\n').map(BigInt);
    expect(tokens).toHaveLength(WORKERS * SECTIONS);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
  }, 90_000);
});
