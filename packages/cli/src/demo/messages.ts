/** What a demo worker reports to `dlock demo` on its stdout, one JSON object per line. */
export type WorkerMessage =
  | { readonly t: 'wait'; readonly w: number }
  | { readonly t: 'enter'; readonly w: number; readonly token: string }
  /**
   * The worker has checked that it still holds the lock and now waits, before its write, to be
   * frozen (SIGSTOP) and woken (SIGCONT): the pause between a holder's check and its write.
   */
  | { readonly t: 'freeze'; readonly w: number; readonly token: string }
  | { readonly t: 'leave'; readonly w: number; readonly token: string; readonly accepted: boolean }
  | { readonly t: 'done'; readonly w: number; readonly sections: number; readonly waits: number };

export function parseMessage(line: string): WorkerMessage | undefined {
  try {
    const message = JSON.parse(line) as WorkerMessage;
    return typeof message === 'object' && message !== null && 't' in message ? message : undefined;
  } catch {
    return undefined;
  }
}
