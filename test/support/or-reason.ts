/** What a test needs, started, or why not: `skip` outside CI; `missing`, to fail with, in CI. */
export interface OrReason<T> {
  value?: T;
  skip: string | false;
  missing?: string;
}

/**
 * Starts what a test needs. If that fails, `needs` and the error become the reason to skip the
 * test (outside CI) or to fail it (CI=true), never a silent skip.
 */
export async function startedOrReason<T>(
  start: () => Promise<T>,
  needs: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<OrReason<T>> {
  try {
    return { value: await start(), skip: false };
  } catch (error) {
    const reason = `${needs}: ${error instanceof Error ? error.message : String(error)}`;
    return env.CI === 'true' ? { skip: false, missing: reason } : { skip: reason };
  }
}
