import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * An event log file in a directory of its own, removed by `done()`: every process of a scenario
 * appends one line per event with one `write` (O_APPEND orders them), so the file's order is the
 * order of the events, with no clock compared across processes.
 */
export function eventLog(prefix: string): { path: string; lines(): string[]; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const path = join(dir, 'events');
  appendFileSync(path, '');
  return {
    path,
    lines: () => readFileSync(path, 'utf8').split('\n').filter(Boolean),
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}
