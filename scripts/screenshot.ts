// npm run screenshot: docs/page.png, the page as a person sees it once subscribed;
// docs/devices.png, "Your devices" with two of them and "Send a notification"; and
// docs/phone.png, its "Add a phone" section with a real pairing QR code. All are made by the
// real server in temp dirs and Chromium, with the offline PushManager from the browser tests; the
// last inside a network namespace of its own (test/support/lan.ts), so that the server has a
// LAN address (10.77.0.1) and the picture is the same on every machine.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { CHROMIUM_MISSING, findChromium, launchChromium } from '../test/support/chromium.ts';
import { fakePush } from '../test/support/fake-push.ts';
import { lanOrReason } from '../test/support/lan.ts';
import { startLanChromium } from '../test/support/lan-chromium.ts';
import { startLanServer } from '../test/support/lan-server.ts';
import { childEnv, ROOT, startServerProcess, tempDir } from '../test/support/processes.ts';
import { type PushService, startPushService } from '../test/support/push-service.ts';
import { readEndpoint } from '../test/support/worker.ts';

const PAGE = join(ROOT, 'docs/page.png');
const DEVICES = join(ROOT, 'docs/devices.png');
const PHONE = join(ROOT, 'docs/phone.png');
const VIEWPORT = { width: 900, height: 700 };
/** What to undo at the end, in order (run last first). */
type Cleanups = (() => Promise<unknown>)[];

const executablePath = findChromium();
if (executablePath) {
  const push = await startPushService();
  const cleanups: Cleanups = [];
  try {
    await subscribedPage(executablePath, push, cleanups);
    await phoneSection(executablePath, push, cleanups);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await push.close();
  }
} else {
  console.error(CHROMIUM_MISSING);
  process.exitCode = 1;
}

async function save(what: Page | Locator, file: string, fullPage = false): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await what.screenshot({ path: file, ...(fullPage ? { fullPage } : {}) });
  console.log(`wrote ${relative(process.cwd(), file)}`);
}

/** docs/page.png: the server's own browser after Subscribe, over http://localhost. */
async function subscribedPage(path: string, push: PushService, cleanups: Cleanups) {
  const dir = await tempDir();
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const server = await startServerProcess({ dir, env: childEnv(push) });
  cleanups.push(() => server.stop());
  const chromium = await launchChromium({ executablePath: path });
  cleanups.push(() => chromium.close());
  const origin = server.httpUrl.replace('127.0.0.1', 'localhost');
  const context = await chromium.browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
  context.setDefaultTimeout(10_000);
  await context.grantPermissions(['notifications'], { origin });
  await fakePush(context, () => push.subscribe());
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
  await page.locator('#status[data-state="subscribed"]').waitFor();
  await page.locator('#detail', { hasText: 'welcome' }).waitFor();
  await page.locator('#phone-off').waitFor();
  await save(page, PAGE, true);
  const subscribeOther = async (name: string) => {
    const other = await chromium.browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
    cleanups.push(() => other.close());
    await other.grantPermissions(['notifications'], { origin });
    await fakePush(other, () => push.subscribe());
    const second = await other.newPage();
    await second.goto(`${origin}/`);
    await second.getByLabel('Name this device').fill(name);
    await second.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await second.locator('#status[data-state="subscribed"]').waitFor();
    return (await second.evaluate(readEndpoint)) as string;
  };
  await twoDevices(page, await subscribeOther('Phone'), push);
}

/**
 * docs/devices.png: the first browser's list once a second one (`phone`) subscribed, a test to
 * it refused with 403, and a notification sent to the first alone.
 */
async function twoDevices(page: Page, phone: string, push: PushService) {
  await page.reload();
  const item = (name: string) =>
    page.locator('#device-list > li', { has: page.locator('.device-name', { hasText: name }) });
  push.behave(phone, { status: 403, body: 'BadJwtToken' }, 1);
  await item('Phone').getByRole('button', { name: 'Send test' }).click();
  await item('Phone').locator('.device-result', { hasText: 'Failed' }).waitFor();
  await page.getByLabel('Title', { exact: true }).fill('Backup');
  await page.getByLabel('Message', { exact: true }).fill('Backup finished');
  await page.getByLabel('To', { exact: true }).selectOption('Chrome on Linux');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.locator('#send-report', { hasText: 'Delivered: 1.' }).waitFor();
  // Both sections, from the top of the one to the bottom of the other, on the whole page.
  const [top, bottom] = await page.evaluate(() =>
    ['devices', 'send'].map((id) => {
      const box = document.getElementById(id)?.getBoundingClientRect();
      return box ? { y: box.top + window.scrollY, end: box.bottom + window.scrollY } : undefined;
    }),
  );
  if (!top || !bottom) throw new Error('the devices sections are not shown');
  await mkdir(dirname(DEVICES), { recursive: true });
  await page.screenshot({
    path: DEVICES,
    fullPage: true,
    clip: { x: 0, y: top.y - 16, width: VIEWPORT.width, height: bottom.end - top.y + 32 },
  });
  console.log(`wrote ${relative(process.cwd(), DEVICES)}`);
}

/** docs/phone.png: "Add a phone" on the server's own browser, the server on the LAN. */
async function phoneSection(path: string, push: PushService, cleanups: Cleanups) {
  const found = await lanOrReason();
  if (!found.lan) {
    console.error(`${relative(process.cwd(), PHONE)} not made: ${found.skip || found.missing}`);
    process.exitCode = 1;
    return;
  }
  const lan = found.lan;
  cleanups.push(() => lan.close());
  const dir = await tempDir();
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const server = await startLanServer(lan, push, { dir });
  cleanups.push(() => server.stop());
  const chromium = await startLanChromium(lan, {
    executablePath: path,
    mint: () => push.subscribe(),
  });
  cleanups.push(() => chromium.close());
  const { page } = await chromium.open(
    { after: (close) => cleanups.push(async () => close()) },
    server.httpUrl.replace('127.0.0.1', 'localhost'),
    { viewport: VIEWPORT },
  );
  await page.locator('#pair-link[href*="#pair="]').waitFor();
  await page.locator('#ca-qr[src]').waitFor();
  await page.evaluate(() =>
    Promise.all(
      [...document.querySelectorAll('#phone img')].map((i) => (i as HTMLImageElement).decode()),
    ),
  );
  await save(page.locator('#phone'), PHONE);
}
