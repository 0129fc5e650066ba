/** Counts requests per client address in one-minute windows; `take` answers the seconds to wait, or 0. */
export function createRateLimiter(perMinute: number, now: () => number = Date.now) {
  let windowStart = now();
  let counts = new Map<string, number>();
  return {
    take(key: string): number {
      if (perMinute === 0) return 0;
      const time = now();
      if (time - windowStart >= 60_000) {
        // A fresh map each window keeps memory bounded by one minute of clients.
        windowStart = time;
        counts = new Map();
      }
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      return count > perMinute ? Math.ceil((windowStart + 60_000 - time) / 1000) : 0;
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
