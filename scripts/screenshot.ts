// npm run screenshot: docs/page.png, the page as a person sees it once subscribed, made by the
// real server in a temp dir and Chromium, with the offline PushManager from the browser tests.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_MISSING, findChromium } from '../test/support/chromium.ts';
import { fakePush } from '../test/support/fake-push.ts';
import { childEnv, ROOT, startServerProcess, tempDir } from '../test/support/processes.ts';
import { startPushService } from '../test/support/push-service.ts';

const OUT = join(ROOT, 'docs/page.png');
const VIEWPORT = { width: 900, height: 700 };

const executablePath = findChromium();
if (executablePath) {
  await screenshot(executablePath);
} else {
  console.error(CHROMIUM_MISSING);
  process.exitCode = 1;
}

async function screenshot(executablePath: string): Promise<void> {
  const push = await startPushService();
  const dir = await tempDir();
  const server = await startServerProcess({ dir, env: childEnv(push) }).catch(async (error) => {
    await push.close();
    throw error;
  });
  const browser = await chromium
    .launch({ executablePath, args: [...CHROMIUM_ARGS], timeout: 15_000 })
    .catch(() => undefined);
  try {
    if (!browser) throw new Error(`Chromium at ${executablePath} did not start`);
    const origin = server.httpUrl.replace('127.0.0.1', 'localhost');
    const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
    context.setDefaultTimeout(10_000);
    await context.grantPermissions(['notifications'], { origin });
    await fakePush(context, () => push.subscribe());
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await page.locator('#status[data-state="subscribed"]').waitFor();
    await page.locator('#detail', { hasText: 'welcome' }).waitFor();
    await mkdir(dirname(OUT), { recursive: true });
    await page.screenshot({ path: OUT });
    console.log(`wrote ${relative(process.cwd(), OUT)}`);
  } finally {
    await browser?.close();
    await server.stop();
    await push.close();
    await rm(dir, { recursive: true, force: true });
  }
}
