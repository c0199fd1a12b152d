import { fileURLToPath } from 'node:url';
import { spawnNodeWorker } from '@dlock/test-utils';

const WORKER = fileURLToPath(new URL('../fixtures/worker.ts', import.meta.url));

/** Run test/fixtures/worker.ts in a child process (TypeScript through tsx); resolve its ids. */
export async function runWorker(args: string[]): Promise<bigint[]> {
  const worker = await spawnNodeWorker(WORKER, { args, name: `idgen worker ${args.join(' ')}` });
  const exit = await worker.exited;
  if (exit.code !== 0) {
    throw new Error(`${worker.name} exited with ${exit.code ?? exit.signal}: ${worker.output()}`);
  }
  const lines = worker.stdoutLines().filter((line) => line !== '');
  const end = lines.pop();
  if (end !== `end ${lines.length}`) {
    throw new Error(`${worker.name}: read ${lines.length} ids, then ${JSON.stringify(end)}`);
  }
  return lines.map((line) => BigInt(line));
}

/** Duplicates among the ids, and the gaps between consecutive ones when sorted. */
export function analyse(ids: bigint[]): {
  duplicates: number;
  largestGap: bigint;
  missing: bigint;
} {
  const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let duplicates = 0;
  let largestGap = 0n;
  let missing = 0n;
  for (let i = 1; i < sorted.length; i++) {
    const gap = sorted[i]! - sorted[i - 1]! - 1n;
    if (gap < 0n) duplicates++;
    else {
      if (gap > largestGap) largestGap = gap;
      missing += gap;
    }
  }
  return { duplicates, largestGap, missing };
}
