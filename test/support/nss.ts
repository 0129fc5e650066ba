import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { browserOrReason } from './find-browser.ts';

const run = promisify(execFile);

/** The one line shown when there is no certutil: the skip reason, or the failure in CI. */
export const CERTUTIL_MISSING =
  'certutil not found: apt-get install -y libnss3-tools (or set CERTUTIL_PATH to it)';

const CERTUTIL = {
  variable: 'CERTUTIL_PATH',
  candidates: (process.env.PATH ?? '/usr/bin').split(':').map((dir) => join(dir, 'certutil')),
  missing: CERTUTIL_MISSING,
};

/** certutil's path, or the reason to skip (outside CI) or fail (CI=true) without it. */
export const certutilOrReason = (env: NodeJS.ProcessEnv = process.env) =>
  browserOrReason(CERTUTIL, env);

/** A temporary HOME whose NSS database (what Chromium on Linux trusts) holds only `caFiles`. */
export interface NssHome {
  home: string;
  /** The environment to launch Chromium with: this process's, with HOME set to `home`. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Makes a temporary HOME with an NSS database in ~/.pki/nssdb (made by `certutil`) that trusts
 * each file in `caFiles` as a CA for web sites (`-t C,,`) and nothing else: Chromium launched
 * with that HOME accepts what they issue. Without `certutil`, a HOME with no database at all.
 */
export async function nssHome(
  certutil: string | undefined,
  caFiles: readonly string[],
): Promise<NssHome> {
  const home = await mkdtemp(join(tmpdir(), 'nss-home-'));
  try {
    if (certutil) {
      const db = `sql:${join(home, '.pki/nssdb')}`;
      await mkdir(join(home, '.pki/nssdb'), { recursive: true });
      await run(certutil, ['-d', db, '-N', '--empty-password']);
      for (const [index, file] of caFiles.entries()) {
        await run(certutil, ['-d', db, '-A', '-t', 'C,,', '-n', `ca-${index}`, '-i', file]);
      }
    } else if (caFiles.length > 0) {
      throw new Error(CERTUTIL_MISSING);
    }
  } catch (error) {
    await rm(home, { recursive: true, force: true });
    throw error;
  }
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined) env[name] = value;
  }
  return {
    home,
    env: { ...env, HOME: home },
    close: () => rm(home, { recursive: true, force: true }),
  };
}
