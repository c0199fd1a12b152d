import type { Io } from '../io.js';
import type { DemoState } from './state.js';

/** How `dlock demo` shows progress: redrawn in place on a terminal, plain lines otherwise. */
export interface DemoView {
  update(state: DemoState): void;
  /** Something worth a line of its own (the freeze and the wake-up). */
  note(text: string): void;
  finish(state: DemoState): void;
}

const BAR_WIDTH = 30;

function bar(done: number, total: number, width = BAR_WIDTH): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

function holderText(state: DemoState): string {
  return state.holder === undefined ? '(between holders)' : `worker ${state.holder + 1}`;
}

/** Redraws a small table in place with ANSI cursor movement. */
export class LiveView implements DemoView {
  #lines = 0;
  #notes: string[] = [];

  constructor(private readonly io: Io) {}

  note(text: string): void {
    this.#notes.push(text);
  }

  update(state: DemoState): void {
    const frozen = state.frozen;
    const lines = [
      `${bar(state.done, state.total)} ${state.done}/${state.total} sections`,
      `holder: ${holderText(state).padEnd(18)} fencing token: ${state.lastToken.padEnd(16)} waits: ${state.waits}`,
      ...state.workers.map(
        (w, i) =>
          `  worker ${String(i + 1).padEnd(3)} ${bar(w.done, state.sectionsPerWorker, 15)} ${String(w.done).padStart(4)}/${state.sectionsPerWorker}  waits ${String(w.waits).padStart(4)}${w.finished ? '  done' : ''}${frozen?.w === i && frozen.lateWriteAccepted === undefined ? '  FROZEN' : ''}`,
      ),
      ...this.#notes.map((note) => `  * ${note}`),
    ];
    let text = this.#lines > 0 ? `\x1b[${this.#lines}A` : '';
    for (const line of lines) text += `\x1b[2K${line}\n`;
    this.#lines = lines.length;
    this.io.stdout.write(text);
  }

  finish(state: DemoState): void {
    this.update(state);
  }
}

/** One line per 10% of progress, for logs and pipes. */
export class PlainView implements DemoView {
  #step = -1;

  constructor(private readonly io: Io) {}

  note(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }

  update(state: DemoState): void {
    const step = Math.floor((state.done * 10) / Math.max(1, state.total));
    if (step === this.#step) return;
    this.#step = step;
    this.io.stdout.write(
      `progress ${state.done}/${state.total} sections, last holder ${state.lastHolder === undefined ? '-' : `worker ${state.lastHolder + 1}`}, fencing token ${state.lastToken}, waits ${state.waits}\n`,
    );
  }

  finish(state: DemoState): void {
    this.update(state);
  }
}

/** Prints nothing while running (`--json` prints only the verdict). */
export class SilentView implements DemoView {
  update(): void {}
  note(): void {}
  finish(): void {}
}
