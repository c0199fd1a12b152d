import type { WorkerMessage } from './messages.js';

export interface WorkerProgress {
  done: number;
  waits: number;
  finished: boolean;
}

/** The worker the demo froze past its lease, and what became of its late write. */
export interface FrozenWorker {
  readonly w: number;
  /** The token of the hold it was frozen in. */
  readonly token: string;
  /** The first token another worker wrote with while it was frozen (then it is woken). */
  supersededBy: string | undefined;
  /** Whether its write after waking landed; undefined until it reports it. */
  lateWriteAccepted: boolean | undefined;
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
  frozen: FrozenWorker | undefined;

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
      case 'freeze':
        // One freeze per demo: a second worker that read the same value is not frozen.
        if (this.frozen) break;
        this.frozen = {
          w: message.w,
          token: message.token,
          supersededBy: undefined,
          lateWriteAccepted: undefined,
        };
        break;
      case 'leave': {
        worker.done++;
        if (message.accepted) this.accepted++;
        else this.rejected++;
        if (this.holder === message.w) this.holder = undefined;
        const frozen = this.frozen;
        if (frozen?.w === message.w && frozen.token === message.token) {
          frozen.lateWriteAccepted = message.accepted;
        } else if (
          frozen &&
          frozen.w !== message.w &&
          frozen.lateWriteAccepted === undefined &&
          frozen.supersededBy === undefined &&
          message.accepted &&
          BigInt(message.token) > BigInt(frozen.token)
        ) {
          frozen.supersededBy = message.token;
        }
        break;
      }
      case 'done':
        worker.finished = true;
        break;
    }
  }
}
