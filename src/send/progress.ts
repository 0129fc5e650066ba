/** Where and how progress is drawn; tests pass their own write, isTTY and clock. */
export interface ProgressOptions {
  write: (text: string) => void;
  /** Only a terminal gets a progress line; a pipe or file gets nothing. */
  isTTY: boolean;
  /** Milliseconds; Date.now by default. */
  now?: () => number;
  /** Sends to this many or fewer are over too soon to need one. */
  minTotal?: number;
  /** The shortest time between two redraws. */
  intervalMs?: number;
}

export interface Progress {
  /** Called once per finished push (the onProgress of sendToStored). */
  update(done: number, total: number): void;
  /** Clears the progress line, if one was drawn, so the summary can take its place. */
  finish(): void;
}

// ANSI "erase to end of line": a shorter redraw leaves no tail of the longer one before it.
const CLEAR = '\x1b[K';

/** A `done/total, rate/s, ETA` line redrawn in place with \r, at most 10 times a second. */
export function createProgress(options: ProgressOptions): Progress {
  const { write, isTTY, now = Date.now, minTotal = 100, intervalMs = 100 } = options;
  const start = now();
  let drawnAt: number | undefined;
  return {
    update(done, total) {
      if (!isTTY || total <= minTotal) return;
      const time = now();
      if (drawnAt !== undefined && time - drawnAt < intervalMs && done < total) return;
      drawnAt = time;
      write(`\r${progressLine(done, total, time - start)}${CLEAR}`);
    },
    finish() {
      if (drawnAt !== undefined) write(`\r${CLEAR}`);
      drawnAt = undefined;
    },
  };
}

/** `1200/10000  950/s  ETA 9s`: the rate so far, and the time left at that rate. */
export function progressLine(done: number, total: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const eta = rate > 0 ? formatDuration((total - done) / rate) : '?';
  return `${done}/${total}  ${Math.round(rate)}/s  ETA ${eta}`;
}

/** Whole seconds as `42s`, `3m05s` or `1h02m`. */
export function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
