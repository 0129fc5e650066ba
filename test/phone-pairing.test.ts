import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { testAuthority } from './support/certs.ts';
import { chromiumOrReason } from './support/chromium.ts';
import { checkDeclarative } from './support/declarative.ts';
import { useHarness } from './support/harness.ts';
import { LAN_IPV4, LAN_IPV6, type Lan, lanOrReason } from './support/lan.ts';
import { type LanChromium, startLanChromium } from './support/lan-chromium.ts';
import { type LanServer, startLanServer } from './support/lan-server.ts';
import { certutilOrReason } from './support/nss.ts';
import { ROOT } from './support/processes.ts';

// The phone's side of pairing: Chromium inside a LAN namespace of the test's own, trusting the
// server's local CA through its NSS database only (as a phone that installed the CA), opens the
// server at its LAN addresses.
const chromiumFound = chromiumOrReason();
const certutilFound = certutilOrReason();
const found = await lanOrReason();
const lan = found.lan as Lan;
after(() => found.lan?.close());
const RESULTS = join(ROOT, 'test-results');
const PHONE = { width: 390, height: 844 };
const IPHONE_SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

const needs = [chromiumFound, certutilFound, found];
test('finds Chromium, certutil and a LAN namespace for the phone tests', {
  skip: needs.map((n) => n.skip).find(Boolean) ?? false,
}, () => {
  for (const need of needs) if (need.missing) assert.fail(need.missing);
});

const skip = needs.some((n) => n.skip || n.missing);
describe('a phone pairing in Chromium', { skip, timeout: 120_000 }, () => {
  const { push, newDir } = useHarness('swps-phone-pairing-');
  let server: LanServer;
  let chromium: LanChromium;

  before(async () => {
    await lan.expose(Number(new URL(push().origin).port));
    server = await startLanServer(lan, push(), { dir: await newDir(), env: { HOST: '::' } });
    chromium = await startLanChromium(lan, {
      executablePath: chromiumFound.path as string,
      trust: {
        certutil: certutilFound.path as string,
        caFiles: [join(server.dir, 'certs/ca.pem')],
      },
      mint: () => push().subscribe(),
    });
    await mkdir(RESULTS, { recursive: true });
  });
  after(async () => {
    await chromium?.close();
    await server?.stop('SIGKILL');
  });

  const text = async (page: Page, selector: string) =>
    ((await page.locator(selector).textContent()) ?? '').trim();
  const stored = () => readFile(join(server.dir, 'subscription.json'), 'utf8').catch(() => '');
  // What is stored, but for each send's results (lastResult), written a moment after the send.
  const subscriptions = async () => {
    const text = await stored();
    const entries = text ? (JSON.parse(text) as Record<string, unknown>[]) : [];
    return entries.map(({ lastResult, ...entry }) => entry);
  };
  const pairingLink = async () =>
    String((await server.call('/api/pairings', { from: 'loopback' })).json.url);
  const browserSubscription = (page: Page) =>
    page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      return (await registration.pushManager.getSubscription())?.endpoint ?? null;
    });

  /** Clicks Subscribe and checks that the server stored this browser's subscription: its endpoint. */
  async function subscribes(page: Page): Promise<string> {
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await page.locator('#status[data-state="subscribed"]').waitFor();
    const endpoint = await browserSubscription(page);
    assert.ok(endpoint && (await stored()).includes(endpoint), 'subscription.json holds it');
    return endpoint;
  }

  for (const address of [LAN_IPV4, `[${LAN_IPV6}]`]) {
    test(`a phone opening a pairing link at ${address} subscribes, and the token leaves the address bar`, async (t) => {
      const link = (await pairingLink()).replace(LAN_IPV4, address);
      const { page, errors } = await chromium.open(t, link, { viewport: PHONE });
      assert.equal(page.url(), `https://${address}:4443/`, 'the fragment is gone');
      assert.ok(await page.locator('#phone').isHidden(), 'no "Add a phone" on the phone');
      assert.ok(await page.locator('#paste').isHidden(), 'nothing to paste: it has the link');
      assert.match(await text(page, '#detail'), /Pairing link received/);
      const endpoint = await subscribes(page);
      // The phone's links point where it opened the server, not at the laptop's localhost.
      const origin = `https://${address}:4443`;
      const entry = (JSON.parse(await stored()) as { endpoint: string; origin?: string }[]).find(
        (s) => s.endpoint === endpoint,
      );
      assert.equal(entry?.origin, origin);
      const welcome = push().received.find((r) => r.endpoint === endpoint);
      const { problems, notification } = checkDeclarative(welcome?.payload ?? '', { origin });
      assert.deepEqual(problems, []);
      assert.equal(notification?.navigate, `${origin}/`);
      // The owner's list and send form are for the server's own browser only.
      assert.ok(await page.locator('#devices').isHidden(), 'no list of devices on a phone');
      assert.ok(await page.locator('#send').isHidden(), 'no send form on a phone');
      assert.deepEqual(errors, []);
    });
  }

  test('a phone without a pairing link is told to get one or paste it, and nothing is stored', async (t) => {
    const { page } = await chromium.open(t, `${server.lanOrigin}/`, { viewport: PHONE });
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'unpaired');
    assert.ok(await page.locator('#paste').isVisible(), 'a place to paste the link');
    await page.screenshot({ path: join(RESULTS, 'phone-unpaired.png'), fullPage: true });
    const before = await subscriptions();
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await page.locator('#detail', { hasText: 'npm run pair' }).waitFor();
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'unpaired');
    assert.match(await text(page, '#status'), /not paired/);
    assert.ok(await page.locator('#paste').isVisible());
    assert.deepEqual(await subscriptions(), before);
    assert.equal(await browserSubscription(page), null, 'the refused subscription is dropped');
  });

  test('pasting something that is not a pairing link says so and changes nothing', async (t) => {
    const { page } = await chromium.open(t, `${server.lanOrigin}/`, { viewport: PHONE });
    const before = await subscriptions();
    for (const pasted of ['', 'hello', `${server.lanOrigin}/`, `${server.lanOrigin}/#pair=a b`]) {
      await page.getByLabel('Paste the pairing link').fill(pasted);
      await page.getByRole('button', { name: 'Use this link' }).click();
      await page.locator('#paste-error', { hasText: 'not a pairing link' }).waitFor();
      assert.equal(await page.locator('#status').getAttribute('data-state'), 'unpaired', pasted);
    }
    assert.deepEqual(await subscriptions(), before);
  });

  test('a phone pastes just the token of a link, then subscribes', async (t) => {
    const token = new URL(await pairingLink()).hash.replace('#pair=', '');
    const { page, errors } = await chromium.open(t, `${server.lanOrigin}/`, { viewport: PHONE });
    await page.getByLabel('Paste the pairing link').fill(` ${token}\n`);
    await page.getByLabel('Paste the pairing link').press('Enter');
    await page.locator('#detail', { hasText: 'Pairing link received' }).waitFor();
    assert.ok(await page.locator('#paste').isHidden());
    await subscribes(page);
    assert.deepEqual(errors, []);
  });

  test('on an iPhone, Safari offers the link to copy, and the Home Screen app pairs with it pasted', async (t) => {
    const link = await pairingLink();
    // Safari, before Add to Home Screen: no service worker yet, only the link to take along.
    const safari = await chromium.open(t, link, {
      viewport: PHONE,
      userAgent: IPHONE_SAFARI,
      permissions: ['clipboard-read', 'clipboard-write'],
      worker: false,
    });
    assert.equal(await safari.page.locator('#status').getAttribute('data-state'), 'install');
    assert.match(await text(safari.page, '#detail'), /Add to Home Screen.*paste the pairing link/);
    assert.equal(await safari.page.locator('#copy-link').inputValue(), link);
    await safari.page.getByRole('button', { name: 'Copy link' }).click();
    await safari.page.locator('#copy-done', { hasText: 'Copied' }).waitFor();
    await safari.page.screenshot({ path: join(RESULTS, 'phone-ios-safari.png'), fullPage: true });
    const copied = await safari.page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, link);

    // The Home Screen app: its own storage, opened at the manifest's start_url.
    const app = await chromium.open(t, `${server.lanOrigin}/`, { viewport: PHONE });
    assert.equal(await app.page.locator('#status').getAttribute('data-state'), 'unpaired');
    await app.page.getByLabel('Paste the pairing link').fill(copied);
    await app.page.getByRole('button', { name: 'Use this link' }).click();
    await app.page.locator('#detail', { hasText: 'Pairing link received' }).waitFor();
    await subscribes(app.page);
    await app.page.screenshot({ path: join(RESULTS, 'phone-ios-app.png'), fullPage: true });
    assert.deepEqual([...safari.errors, ...app.errors], []);
  });

  test('a phone that trusts another CA, not this one, cannot load the page or register the worker', async (t) => {
    const other = join(server.dir, 'other-ca.pem');
    await writeFile(other, (await testAuthority()).ca);
    const untrusting = await startLanChromium(lan, {
      executablePath: chromiumFound.path as string,
      trust: { certutil: certutilFound.path as string, caFiles: [other] },
      mint: () => push().subscribe(),
    });
    t.after(() => untrusting.close());
    await assert.rejects(
      untrusting.open(t, `${server.lanOrigin}/`, { worker: false }),
      /net::ERR_CERT_AUTHORITY_INVALID/,
    );
    // Past the warning the page loads, but Chromium refuses the worker: the page says what to do.
    const { page } = await untrusting.open(t, `${server.lanOrigin}/`, {
      viewport: PHONE,
      worker: false,
      ignoreHTTPSErrors: true,
    });
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'error');
    assert.match(await text(page, '#status'), /service worker could not be registered/);
    assert.match(await text(page, '#detail'), /SSL certificate error/);
    assert.match(await text(page, '#detail'), /trust the server’s certificate authority/);
    assert.ok((await text(page, '#detail')).includes(`${server.lanOrigin}/ca.crt`));
    await page.screenshot({ path: join(RESULTS, 'phone-untrusted.png'), fullPage: true });
  });
});
