/** What a demo worker reports to `dlock demo` on its stdout, one JSON object per line. */
export type WorkerMessage =
  | { readonly t: 'wait'; readonly w: number }
  | { readonly t: 'enter'; readonly w: number; readonly token: string }
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
