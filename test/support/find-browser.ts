import { existsSync } from 'node:fs';

/** How to find one browser: the variable that overrides, the usual paths, the line to show without it. */
export interface BrowserLookup {
  variable: string;
  candidates: readonly string[];
  missing: string;
}

/** Where the browser is: the variable's path when it is set (and only then), else a usual path. */
export function findBrowser(lookup: BrowserLookup, env: NodeJS.ProcessEnv): string | undefined {
  const chosen = env[lookup.variable];
  if (chosen) return existsSync(chosen) ? chosen : undefined;
  return lookup.candidates.find((path) => existsSync(path));
}

/**
 * The browser's path, or what to do without it: `skip` holds the reason outside CI; in CI
 * (CI=true) `missing` holds the message the tests must fail with, never a silent skip.
 */
export function browserOrReason(
  lookup: BrowserLookup,
  env: NodeJS.ProcessEnv,
): { path?: string; skip: string | false; missing?: string } {
  const path = findBrowser(lookup, env);
  if (path) return { path, skip: false };
  return env.CI === 'true' ? { skip: false, missing: lookup.missing } : { skip: lookup.missing };
}
