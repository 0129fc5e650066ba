import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type LocalCa, loadOrCreateCa } from '../src/tls/ca.ts';
import { makeLeaf, type Pem } from '../src/tls/x509.ts';
import { withoutNameConstraints } from './support/certs.ts';
import { chromiumArgs, chromiumOrReason, launchChromium } from './support/chromium.ts';
import { certutilOrReason } from './support/nss.ts';
import { tempDir } from './support/processes.ts';

// What a phone that trusts the local CA gets: Chromium trusting certs/ca.pem through its NSS
// database (no certificate flag) accepts what the CA issues for local names, and refuses what its
// key signs for a public name or address, because of the CA's name constraints alone.
const chromiumFound = chromiumOrReason();
const certutilFound = certutilOrReason();
const needs = [chromiumFound, certutilFound];

test('finds Chromium and certutil for the CA tests', {
  skip: needs.map((n) => n.skip).find(Boolean) ?? false,
}, () => {
  for (const need of needs) if (need.missing) assert.fail(need.missing);
});

const skip = needs.some((n) => n.skip || n.missing);
describe('Chromium trusting the local CA through NSS', { skip, timeout: 60_000 }, () => {
  let dir: string;
  let ca: LocalCa;
  let twinFile: string;

  before(async () => {
    dir = await tempDir('ca-chromium-');
    ({ ca } = await loadOrCreateCa(join(dir, 'certs'), {
      hostName: 'testhost',
      extraNames: [],
      now: Date.now(),
    }));
    twinFile = join(dir, 'twin.pem');
    await writeFile(twinFile, await withoutNameConstraints(ca.pem, ca.key));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const leaf = (dnsNames: string[], ips: string[] = []) =>
    makeLeaf({ ca: { cert: ca.pem, key: ca.key }, dnsNames, ips, now: Date.now(), days: 30 });

  /**
   * Opens `https://<name>:<port>/` (resolved to 127.0.0.1) served with `pair`, in Chromium
   * trusting only `caFile`: "ok" or the error Chromium gave.
   */
  async function open(caFile: string, pair: Pem, name: string): Promise<string> {
    const server = createServer(pair, (_req, res) => res.end('<title>served</title>'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const chromium = await launchChromium({
      executablePath: chromiumFound.path as string,
      args: chromiumArgs({ map: { [name]: '127.0.0.1' } }),
      trust: { certutil: certutilFound.path as string, caFiles: [caFile] },
    });
    try {
      const page = await chromium.browser.newPage();
      return await page
        .goto(`https://${name}:${port}/`, { timeout: 10_000 })
        .then(async () => ((await page.title()) === 'served' ? 'ok' : 'served something else'))
        .catch((error: Error) => error.message);
    } finally {
      await chromium.close();
      server.close();
    }
  }

  test('accepts a certificate the CA issued for localhost, with no certificate flag', async () => {
    assert.equal(await open(ca.certFile, await leaf(['localhost']), 'localhost'), 'ok');
  });

  test('refuses a certificate the CA key signed for a public name (net::ERR_CERT_INVALID)', async () => {
    const refused = await open(ca.certFile, await leaf(['example.com']), 'example.com');
    assert.match(refused, /net::ERR_CERT_INVALID/);
  });

  test('accepts that same certificate from the same CA without its name constraints', async () => {
    // The control: the same key, subject and serial, only the constraints left out.
    assert.equal(await open(twinFile, await leaf(['example.com']), 'example.com'), 'ok');
  });
});
