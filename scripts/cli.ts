// What every CLI here shares: one-line errors and exit codes (2 wrong usage, 1 failed work, 0 done).
import { staleBuild } from '../src/build.ts';
import { ConfigError, HttpError } from '../src/errors.ts';

/** Wrong usage: printed with the help text, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Runs a CLI body; expected failures print one line, only a bug prints a stack trace. */
export async function runCli(help: string, body: () => Promise<void>): Promise<void> {
  const stale = staleBuild();
  if (stale) {
    console.error(`error: ${stale}`);
    process.exitCode = 1;
    return;
  }
  try {
    await body();
  } catch (error) {
    const { code } = error as { code?: string };
    // parseArgs errors carry ERR_PARSE_ARGS_* codes; a rejected option value is a 400/413/422.
    const badInput = error instanceof HttpError && [400, 413, 422].includes(error.status);
    if (error instanceof UsageError || code?.startsWith('ERR_PARSE_ARGS') || badInput) {
      // Some parseArgs messages span lines ("argument is ambiguous"): keep the error to one.
      const message = (error as Error).message.replace(/\s*\n\s*/g, ' ');
      console.error(`error: ${message}\n\n${help}`);
      process.exitCode = 2;
    } else if (error instanceof HttpError || error instanceof ConfigError) {
      // "could not save subscription.json" alone does not say why (a full disk, a held lock).
      const why = error instanceof HttpError && error.cause instanceof Error;
      console.error(`error: ${error.message}${why ? `: ${(error.cause as Error).message}` : ''}`);
      process.exitCode = 1;
    } else {
      throw error;
    }
  }
}
