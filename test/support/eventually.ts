import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Runs `check` every 50 ms until it returns something other than undefined, and returns that;
 * fails after `timeoutMs` with an error that says what was awaited (and `detail()`, if given).
 */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  options: { timeoutMs?: number; detail?: () => string } = {},
): Promise<T> {
  const { timeoutMs = 10_000, detail } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms${detail ? `; ${detail()}` : ''}`);
    }
    await sleep(50);
  }
}
