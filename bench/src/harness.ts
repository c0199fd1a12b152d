/**
 * The benchmark harness: contenders of one comparison run in the same process, in alternating
 * rounds (the order rotates every round, so warm-up, GC and thermal drift fall on everyone alike),
 * and the table reports each contender's median and its ratio to the baseline. Nothing here is
 * a test: numbers are printed and saved, never asserted.
 */

export interface Contender {
  readonly name: string;
  /** Runs once before the first round (connect, warm up). */
  setup?(): Promise<void> | void;
  /** One round: returns the measured value (for example ops/s, or bytes per lock). */
  round(): Promise<number> | number;
  teardown?(): Promise<void> | void;
}

export interface Comparison {
  readonly title: string;
  /** Unit of the value each round returns, e.g. 'ops/s' or 'bytes/lock'. */
  readonly unit: string;
  /** Whether a larger value is better (throughput) or worse (memory, latency). */
  readonly higherIsBetter: boolean;
  /** Name of the contender the ratios are relative to. */
  readonly baseline: string;
  readonly rounds: number;
  readonly contenders: readonly Contender[];
  /** Free-form notes printed under the table (what a ratio means, targets). */
  readonly notes?: readonly string[];
}

export interface Row {
  readonly name: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** median / baseline median. */
  readonly ratio: number;
  readonly samples: readonly number[];
}

export interface Result {
  readonly title: string;
  readonly unit: string;
  readonly baseline: string;
  readonly higherIsBetter: boolean;
  readonly rows: readonly Row[];
  readonly notes: readonly string[];
}

export async function compare(comparison: Comparison): Promise<Result> {
  const { contenders } = comparison;
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (const c of contenders) await c.setup?.();
  try {
    for (let round = 0; round < comparison.rounds; round++) {
      for (let i = 0; i < contenders.length; i++) {
        const c = contenders[(i + round) % contenders.length]!;
        globalThis.gc?.();
        samples.get(c.name)!.push(await c.round());
      }
    }
  } finally {
    for (const c of contenders) await c.teardown?.();
  }
  const medianOf = (name: string) => median(samples.get(name)!);
  const base = medianOf(comparison.baseline);
  const rows = contenders.map((c) => {
    const s = samples.get(c.name)!;
    return {
      name: c.name,
      median: median(s),
      min: Math.min(...s),
      max: Math.max(...s),
      ratio: median(s) / base,
      samples: s,
    };
  });
  const result = {
    title: comparison.title,
    unit: comparison.unit,
    baseline: comparison.baseline,
    higherIsBetter: comparison.higherIsBetter,
    rows,
    notes: comparison.notes ?? [],
  };
  print(result);
  return result;
}

/** Measures `ops` operations of `op` (awaited one after another) and returns ops per second. */
export async function opsPerSecond(
  ops: number,
  op: (i: number) => Promise<unknown> | unknown,
): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < ops; i++) await op(i);
  return (ops / (performance.now() - start)) * 1000;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function format(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(value >= 10 ? 1 : 2);
}

export function print(result: Result): void {
  const better = result.higherIsBetter ? 'higher is better' : 'lower is better';
  console.log(`\n## ${result.title}\n`);
  console.log(
    `| contender | median ${result.unit} | min | max | ratio to ${result.baseline} (${better}) |`,
  );
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const row of result.rows) {
    console.log(
      `| ${row.name} | ${format(row.median)} | ${format(row.min)} | ${format(row.max)} | ${row.ratio.toFixed(2)}x |`,
    );
  }
  // One paragraph: the notes are the lines of one text, not separate paragraphs.
  if (result.notes.length > 0) console.log(`\n${result.notes.join('\n')}`);
}
