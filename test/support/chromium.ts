import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { browserOrReason, findBrowser } from './find-browser.ts';

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

const CHROMIUM = { variable: 'CHROMIUM_PATH', candidates: CANDIDATES, missing: CHROMIUM_MISSING };

/** Where Chromium is: CHROMIUM_PATH when set (and only then), else Debian's usual paths. */
export const findChromium = (env: NodeJS.ProcessEnv = process.env) => findBrowser(CHROMIUM, env);

/** Chromium's path, or the reason to skip (outside CI) or fail (CI=true) without it. */
export const chromiumOrReason = (env: NodeJS.ProcessEnv = process.env) =>
  browserOrReason(CHROMIUM, env);

/** `--ignore-certificate-errors-spki-list=...` trusting only the certificate in `certFile`. */
export async function trustOnly(certFile: string): Promise<string> {
  const x509 = new X509Certificate(await readFile(certFile));
  const der = x509.publicKey.export({ type: 'spki', format: 'der' });
  return `--ignore-certificate-errors-spki-list=${createHash('sha256').update(der).digest('base64')}`;
}
