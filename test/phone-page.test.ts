import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { chromiumOrReason } from './support/chromium.ts';
import { useHarness } from './support/harness.ts';
import { type Lan, lanOrReason } from './support/lan.ts';
import { type LanChromium, startLanChromium } from './support/lan-chromium.ts';
import { type LanServer, startLanServer } from './support/lan-server.ts';
import { ROOT } from './support/processes.ts';
import { decodePixels } from './support/qr.ts';

// The page's "Add a phone" section on the server's own browser (http://localhost), in Chromium
// running inside a LAN namespace of the test's own. The phone's side: phone-pairing.test.ts.
const chromiumFound = chromiumOrReason();
const found = await lanOrReason();
const lan = found.lan as Lan;
after(() => found.lan?.close());
const RESULTS = join(ROOT, 'test-results');

test('finds Chromium and a LAN namespace for the phone page tests', {
  skip: chromiumFound.skip || found.skip,
}, () => {
  assert.ok(chromiumFound.path, chromiumFound.missing);
  if (found.missing) assert.fail(found.missing);
});

const skip = chromiumFound.skip || found.skip || Boolean(chromiumFound.missing || found.missing);
describe('the phone section in Chromium', { skip, timeout: 90_000 }, () => {
  const { push, newDir } = useHarness('swps-phone-');
  let onLan: LanServer;
  let local: LanServer;
  let chromium: LanChromium;

  before(async () => {
    await lan.expose(Number(new URL(push().origin).port));
    onLan = await startLanServer(lan, push(), { dir: await newDir() });
    local = await startLanServer(lan, push(), {
      dir: await newDir(),
      env: { HOST: '127.0.0.1', PORT: '4444' },
    });
    // http://localhost only: no certificate to trust.
    chromium = await startLanChromium(lan, {
      executablePath: chromiumFound.path as string,
      mint: () => push().subscribe(),
    });
    await mkdir(RESULTS, { recursive: true });
  });
  after(async () => {
    await chromium?.close();
    await Promise.all([onLan?.stop('SIGKILL'), local?.stop('SIGKILL')]);
  });

  /** The QR code in `selector`, drawn on a canvas and read back. */
  async function readQr(page: Page, selector: string): Promise<string | undefined> {
    const size = 240;
    const base64 = await page.evaluate(
      async ({ sel, size }) => {
        const image = document.querySelector(sel) as HTMLImageElement;
        await image.decode();
        const canvas = document.createElement('canvas');
        canvas.width = size;
        canvas.height = size;
        const context = canvas.getContext('2d') as CanvasRenderingContext2D;
        context.drawImage(image, 0, 0, size, size);
        // As base64: a plain array of every pixel's bytes is slow to pass back.
        const bytes = context.getImageData(0, 0, size, size).data;
        let binary = '';
        for (let i = 0; i < bytes.length; i += 0x8000) {
          binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        }
        return btoa(binary);
      },
      { sel: selector, size },
    );
    return decodePixels(new Uint8ClampedArray(Buffer.from(base64, 'base64')), size, size);
  }

  const text = async (page: Page, selector: string) =>
    ((await page.locator(selector).textContent()) ?? '').trim();

  test('on the server’s own browser it shows the LAN URL and a QR code of a pairing link that works', async (t) => {
    const { page, errors } = await chromium.open(
      t,
      onLan.httpUrl.replace('127.0.0.1', 'localhost'),
    );
    await page.locator('#phone-on').waitFor();
    await page.locator('#pair-link[href*="#pair="]').waitFor();
    assert.equal(await text(page, '#lan-url'), onLan.lanOrigin);
    const link = await text(page, '#pair-link');
    assert.match(link, /^https:\/\/10\.77\.0\.1:4443\/#pair=[A-Za-z0-9_-]{43}$/);
    assert.equal(await readQr(page, '#pair-qr'), link, 'the QR code is the link');
    assert.match(await text(page, '#pair-expiry'), /\d/);
    assert.ok(await page.locator('#phone-off').isHidden());
    const ca = new X509Certificate(await readFile(join(onLan.dir, 'certs/ca.pem')));
    assert.equal(await text(page, '#ca-fingerprint'), ca.fingerprint256);
    assert.equal(await text(page, '#ca-url'), `${onLan.lanOrigin}/ca.crt`);
    assert.equal(await readQr(page, '#ca-qr'), `${onLan.lanOrigin}/ca.crt`);
    await page.screenshot({ path: join(RESULTS, 'phone-section.png'), fullPage: true });

    await page.getByRole('button', { name: 'Make a new link' }).click();
    await page.waitForFunction(
      (old) => document.getElementById('pair-link')?.textContent !== old,
      link,
    );
    const fresh = await text(page, '#pair-link');
    assert.equal(await readQr(page, '#pair-qr'), fresh);

    const token = /#pair=(.+)$/.exec(fresh)?.[1];
    const answer = await onLan.call('/api/subscriptions', {
      body: push().subscribe(),
      headers: { authorization: `Pairing ${token}` },
    });
    assert.equal(answer.status, 201, 'a phone on the LAN pairs with the link shown');
    assert.deepEqual(errors, []);
  });

  test('with a loopback HOST it says how to restart the server for the LAN instead', async (t) => {
    const { page, errors } = await chromium.open(
      t,
      local.httpUrl.replace('127.0.0.1', 'localhost'),
    );
    await page.locator('#phone-off').waitFor();
    assert.match(await text(page, '#phone-off'), /HOST=0\.0\.0\.0 npm start/);
    assert.ok(await page.locator('#phone-on').isHidden());
    assert.equal(await page.locator('#pair-qr').getAttribute('src'), null);
    await page.screenshot({ path: join(RESULTS, 'phone-section-loopback.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });
});
