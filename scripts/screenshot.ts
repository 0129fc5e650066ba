// npm run screenshot: docs/page.png, the page as a person sees it once subscribed, and
// docs/phone.png, its "Add a phone" section with a real pairing QR code. Both are made by the
// real server in temp dirs and Chromium, with the offline PushManager from the browser tests; the
// second inside a network namespace of its own (test/support/lan.ts), so that the server has a
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

const PAGE = join(ROOT, 'docs/page.png');
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
