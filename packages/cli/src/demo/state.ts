import type { WorkerMessage } from './messages.js';

export interface WorkerProgress {
  done: number;
  waits: number;
  finished: boolean;
}

/** What `dlock demo` knows so far, folded from the workers' messages. */
export class DemoState {
  readonly workers: WorkerProgress[];
  /** Worker inside the critical section right now, as last reported. */
  holder: number | undefined;
  /** Worker that entered most recently (kept after it leaves, for the plain progress lines). */
  lastHolder: number | undefined;
  lastToken = '-';
  accepted = 0;
  rejected = 0;

  constructor(
    workerCount: number,
    readonly sectionsPerWorker: number,
  ) {
    this.workers = Array.from({ length: workerCount }, () => ({
      done: 0,
      waits: 0,
      finished: false,
    }));
  }

  get total(): number {
    return this.workers.length * this.sectionsPerWorker;
  }

  get done(): number {
    return this.workers.reduce((n, w) => n + w.done, 0);
  }

  get waits(): number {
    return this.workers.reduce((n, w) => n + w.waits, 0);
  }

  apply(message: WorkerMessage): void {
    const worker = this.workers[message.w];
    if (!worker) return;
    switch (message.t) {
      case 'wait':
        worker.waits++;
        break;
      case 'enter':
        this.holder = message.w;
        this.lastHolder = message.w;
        this.lastToken = message.token;
        break;
      case 'leave':
        worker.done++;
        if (message.accepted) this.accepted++;
        else this.rejected++;
        if (this.holder === message.w) this.holder = undefined;
        break;
      case 'done':
        worker.finished = true;
        break;
    }
  }
}
