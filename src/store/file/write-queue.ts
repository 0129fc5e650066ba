/** Writes of one file, one at a time; see createWriteQueue. */
export interface WriteQueue {
  /**
   * Asks for a write: one in flight or waiting takes this ask too. A deferred ask waits up to
   * the queue's delay for another to share its write; one that is not starts it at once.
   * Resolves when that write is done, and rejects with its error.
   */
  ask(defer: boolean): Promise<void>;
  /** Starts a waiting write now; resolves (never rejects) when every write asked for is done. */
  flush(): Promise<void>;
}

/** Serializes `write` and coalesces the asks made while one is in flight into the next one. */
export function createWriteQueue(write: () => Promise<void>, delayMs: number): WriteQueue {
  let inFlight: Promise<void> = Promise.resolve();
  let next: Promise<void> | undefined;
  let startNext: (() => void) | undefined;
  return {
    ask(defer) {
      if (!next) {
        const gate = new Promise<void>((resolve) => {
          const timer = defer ? setTimeout(resolve, delayMs) : undefined;
          startNext = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (!defer) startNext?.();
        next = Promise.all([inFlight, gate]).then(() => {
          next = undefined;
          startNext = undefined;
          return write();
        });
        inFlight = next.catch(() => {});
      } else if (!defer) {
        startNext?.();
      }
      return next;
    },
    flush() {
      startNext?.();
      return inFlight;
    },
  };
}
