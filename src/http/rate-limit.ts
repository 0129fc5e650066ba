import { HttpError } from '../errors.ts';

/** Counts events per client address in one-minute windows. */
export function createRateLimiter(perMinute: number, now: () => number = Date.now) {
  let windowStart = now();
  let counts = new Map<string, number>();

  /** Seconds until `key` may go on, counting this event when `count` is set; 0 when it may. */
  function check(key: string, count: boolean): number {
    if (perMinute === 0) return 0;
    const time = now();
    if (time - windowStart >= 60_000) {
      // A fresh map each window keeps memory bounded by one minute of clients.
      windowStart = time;
      counts = new Map();
    }
    const seen = (counts.get(key) ?? 0) + (count ? 1 : 0);
    if (count) counts.set(key, seen);
    const over = count ? seen > perMinute : seen >= perMinute;
    return over ? Math.max(1, Math.ceil((windowStart + 60_000 - time) / 1000)) : 0;
  }

  return {
    /** Counts a request: the seconds to wait when over the limit, else 0. */
    take: (key: string) => check(key, true),
    /** Whether `key` is already over the limit, without counting anything. */
    waitFor: (key: string) => check(key, false),
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

/** The 429 for an address over its limit of failed authentications. */
export function tooMany(seconds: number): HttpError {
  return new HttpError(429, `too many failed attempts; try again in ${seconds} s`, {
    'Retry-After': String(seconds),
  });
}
