import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumOrReason, trustOnly } from './support/chromium.ts';
import { fakePush } from './support/fake-push.ts';
import { useHarness } from './support/harness.ts';
import { LAN_IPV4, type Lan, lanOrReason } from './support/lan.ts';
import { type LanServer, startLanServer } from './support/lan-server.ts';
import { ROOT } from './support/processes.ts';
import { decodePixels } from './support/qr.ts';
import { workerActivated } from './support/worker.ts';

// The page's "Add a phone" section, in Chromium running inside a LAN namespace of the test's own,
// and the phone's side of a pairing link opened from the LAN address.
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
  let browser: Browser;

  before(async () => {
    await lan.expose(Number(new URL(push().origin).port));
    onLan = await startLanServer(lan, push(), { dir: await newDir() });
    local = await startLanServer(lan, push(), {
      dir: await newDir(),
      env: { HOST: '127.0.0.1', PORT: '4444' },
    });
    browser = await chromium.launch({
      executablePath: await lan.wrap(chromiumFound.path as string),
      // Trusts the LAN server's own certificate for the phone's side (the local CA is not here yet).
      args: [
        // The resolver rule maps IP literals too: let the LAN address through.
        ...CHROMIUM_ARGS.map((arg) =>
          arg.startsWith('--host-resolver-rules=') ? `${arg}, EXCLUDE ${LAN_IPV4}` : arg,
        ),
        await trustOnly(join(onLan.dir, 'certs/cert.pem')),
      ],
      timeout: 15_000,
    });
    await mkdir(RESULTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await Promise.all([onLan?.stop('SIGKILL'), local?.stop('SIGKILL')]);
  });

  async function open(t: TestContext, url: string): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 900, height: 1400 } });
    t.after(() => context.close());
    context.setDefaultTimeout(10_000);
    await context.grantPermissions(['notifications'], { origin: new URL(url).origin });
    await fakePush(context, () => push().subscribe());
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    assert.equal(await workerActivated(page), 'activated');
    await page.locator('#status:not([data-state="checking"])').waitFor();
    return { page, errors };
  }

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
  const stored = (server: LanServer) =>
    readFile(join(server.dir, 'subscription.json'), 'utf8').catch(() => '');

  test('on the server’s own browser it shows the LAN URL and a QR code of a pairing link that works', async (t) => {
    const { page, errors } = await open(t, onLan.httpUrl.replace('127.0.0.1', 'localhost'));
    await page.locator('#phone-on').waitFor();
    await page.locator('#pair-link[href*="#pair="]').waitFor();
    assert.equal(await text(page, '#lan-url'), onLan.lanOrigin);
    const link = await text(page, '#pair-link');
    assert.match(link, /^https:\/\/10\.77\.0\.1:4443\/#pair=[A-Za-z0-9_-]{43}$/);
    assert.equal(await readQr(page, '#pair-qr'), link, 'the QR code is the link');
    assert.match(await text(page, '#pair-expiry'), /\d/);
    assert.ok(await page.locator('#phone-off').isHidden());
    const caFile = join(onLan.dir, 'certs/ca.pem');
    if (existsSync(caFile)) {
      const fingerprint = new X509Certificate(await readFile(caFile)).fingerprint256;
      assert.equal(await text(page, '#ca-fingerprint'), fingerprint);
      assert.equal(await text(page, '#ca-url'), `${onLan.lanOrigin}/ca.crt`);
    } else {
      assert.ok(await page.locator('#ca').isHidden(), 'no CA yet: no fingerprint to show');
    }
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
    const { page, errors } = await open(t, local.httpUrl.replace('127.0.0.1', 'localhost'));
    await page.locator('#phone-off').waitFor();
    assert.match(await text(page, '#phone-off'), /HOST=0\.0\.0\.0 npm start/);
    assert.ok(await page.locator('#phone-on').isHidden());
    assert.equal(await page.locator('#pair-qr').getAttribute('src'), null);
    await page.screenshot({ path: join(RESULTS, 'phone-section-loopback.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });

  test('a phone opening a pairing link subscribes once, and the token leaves the address bar', async (t) => {
    const made = await onLan.call('/api/pairings', { from: 'loopback' });
    const { page, errors } = await open(t, String(made.json.url));
    assert.equal(page.url(), `${onLan.lanOrigin}/`, 'the fragment is gone');
    assert.ok(await page.locator('#phone').isHidden(), 'no "Add a phone" on the phone');
    assert.match(await text(page, '#detail'), /Pairing link received/);
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await page.locator('#status[data-state="subscribed"]').waitFor();
    const endpoint = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      return (await registration.pushManager.getSubscription())?.endpoint;
    });
    assert.ok(endpoint && (await stored(onLan)).includes(endpoint));
    assert.deepEqual(errors, []);
  });

  test('a phone without a pairing link is told to get one, and nothing is stored', async (t) => {
    const { page } = await open(t, `${onLan.lanOrigin}/`);
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'unpaired');
    const before = await stored(onLan);
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await page.locator('#detail', { hasText: 'npm run pair' }).waitFor();
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'unpaired');
    assert.match(await text(page, '#status'), /not paired/);
    assert.equal(await stored(onLan), before);
    const subscription = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      return registration.pushManager.getSubscription();
    });
    assert.equal(subscription, null, 'the refused browser subscription is dropped');
    await page.screenshot({ path: join(RESULTS, 'phone-unpaired.png'), fullPage: true });
  });
});
