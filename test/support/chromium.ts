import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** The one line shown when there is no Chromium: the skip reason, or the failure in CI. */
export const CHROMIUM_MISSING =
  'Chromium not found: apt-get install -y chromium (or set CHROMIUM_PATH to its executable)';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

// Headless and offline: without the resolver rule Chromium still tries Google hosts (DESIGN.md).
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

/** Where Chromium is: CHROMIUM_PATH when set (and only then), else Debian's usual paths. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROMIUM_PATH) return existsSync(env.CHROMIUM_PATH) ? env.CHROMIUM_PATH : undefined;
  return CANDIDATES.find((path) => existsSync(path));
}

/**
 * Chromium's path, or what to do without it: `skip` holds the reason outside CI; in CI
 * (CI=true) `missing` holds the message the tests must fail with, never a silent skip.
 */
export function chromiumOrReason(env: NodeJS.ProcessEnv = process.env): {
  path?: string;
  skip: string | false;
  missing?: string;
} {
  const path = findChromium(env);
  if (path) return { path, skip: false };
  return env.CI === 'true'
    ? { skip: false, missing: CHROMIUM_MISSING }
    : { skip: CHROMIUM_MISSING };
}

/** `--ignore-certificate-errors-spki-list=...` trusting only the certificate in `certFile`. */
export async function trustOnly(certFile: string): Promise<string> {
  const x509 = new X509Certificate(await readFile(certFile));
  const der = x509.publicKey.export({ type: 'spki', format: 'der' });
  return `--ignore-certificate-errors-spki-list=${createHash('sha256').update(der).digest('base64')}`;
}
