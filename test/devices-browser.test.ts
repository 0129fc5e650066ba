import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { chromiumOrReason, type LaunchedChromium, launchChromium } from './support/chromium.ts';
import { checkDeclarative, notificationOf } from './support/declarative.ts';
import { fakePush } from './support/fake-push.ts';
import { useHarness } from './support/harness.ts';
import type { ServerProcess } from './support/processes.ts';
import { storedSubscriptions } from './support/server-state.ts';
import { readEndpoint, workerActivated } from './support/worker.ts';

// "Your devices" and "Send a notification" on the server's own page, in Chromium, with the real
// server and the test push service (only PushManager.subscribe is replaced: see fake-push.ts).
const found = chromiumOrReason();

test('finds Chromium for the devices page', { skip: found.skip }, () => {
  assert.ok(found.path, found.missing);
});

describe('the owner’s devices in Chromium', {
  skip: found.skip || found.missing || false,
  timeout: 90_000,
}, () => {
  const { push, start } = useHarness('swps-devices-browser-');
  let server: ServerProcess;
  let chromium: LaunchedChromium;
  let origin: string;

  before(async () => {
    server = await start();
    origin = server.httpUrl.replace('127.0.0.1', 'localhost');
    chromium = await launchChromium({ executablePath: found.path as string });
  });
  after(() => chromium?.close());

  /** A browser of its own (storage, worker, subscription) on the server's page. */
  async function openPage(t: TestContext): Promise<{ page: Page; errors: string[] }> {
    const context = await chromium.browser.newContext({ viewport: { width: 900, height: 900 } });
    t.after(() => context.close());
    context.setDefaultTimeout(10_000);
    await context.grantPermissions(['notifications'], { origin });
    await fakePush(context, () => push().subscribe());
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(`${origin}/`);
    assert.equal(await workerActivated(page), 'activated');
    await page.locator('#status[data-state="not-subscribed"]').waitFor();
    return { page, errors };
  }

  /** Subscribes under `name`, typed into the name field as a person would. */
  async function subscribeAs(page: Page, name: string): Promise<string> {
    await page.getByLabel('Name this device').fill(name);
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await page.locator('#status[data-state="subscribed"]').waitFor();
    return (await page.evaluate(readEndpoint)) as string;
  }

  const device = (page: Page, name: string): Locator =>
    page.locator('#device-list > li', {
      has: page.locator('.device-name', { hasText: new RegExp(`^${name}$`) }),
    });
  const resultOf = async (page: Page, name: string) =>
    (await device(page, name).locator('.device-result').textContent()) ?? '';

  /** What the push service accepted for `endpoint` under `title`, once it has. */
  async function arrives(endpoint: string, title: string, from: number): Promise<void> {
    const match = () =>
      push()
        .received.slice(from)
        .some((r) => r.endpoint === endpoint && notificationOf(r.payload).title === title);
    const deadline = Date.now() + 5000;
    while (!match()) {
      if (Date.now() > deadline) assert.fail(`the push service got no "${title}"`);
      await push()
        .waitFor(push().received.length + 1, 500)
        .catch(() => {});
    }
  }

  test('subscribe with a name, rename, send tests (delivered, then a 403), send to one of two, remove', {
    timeout: 60_000,
  }, async (t) => {
    const { page, errors } = await openPage(t);
    assert.equal(await page.getByLabel('Name this device').inputValue(), 'Chrome on Linux');
    const laptop = await subscribeAs(page, 'Test laptop');
    const item = device(page, 'Test laptop');
    await item.waitFor();
    assert.match((await item.locator('.device-about').textContent()) ?? '', /this browser/);
    assert.equal(await item.locator('.badge').isVisible(), true, 'npm run send reaches it');
    assert.match(await resultOf(page, 'Test laptop'), /^Delivered (just now|1 minute ago)$/);

    await item.getByRole('button', { name: 'Rename' }).click();
    await item.getByRole('textbox', { name: 'New name' }).fill('Kitchen laptop');
    await item.getByRole('button', { name: 'Save' }).click();
    await device(page, 'Kitchen laptop').waitFor();
    await page.locator('#devices-status', { hasText: 'Renamed to “Kitchen laptop”.' }).waitFor();
    const stored = await storedSubscriptions(server);
    assert.equal(
      (stored.find((s) => s.endpoint === laptop) as { name?: string } | undefined)?.name,
      'Kitchen laptop',
    );

    const renamed = device(page, 'Kitchen laptop');
    let mark = push().received.length;
    await renamed.getByRole('button', { name: 'Send test' }).click();
    await page
      .locator('#devices-status', { hasText: 'Test notification sent to “Kitchen laptop”.' })
      .waitFor();
    await arrives(laptop, 'Test notification', mark);
    assert.match(await resultOf(page, 'Kitchen laptop'), /^Delivered /);

    push().behave(laptop, { status: 403, body: 'BadJwtToken' });
    await renamed.getByRole('button', { name: 'Send test' }).click();
    await renamed
      .locator('.device-result', { hasText: /^Failed just now: 403 BadJwtToken$/ })
      .waitFor();
    assert.match(
      (await page.locator('#devices-status').textContent()) ?? '',
      /The test to “Kitchen laptop” failed: 403 BadJwtToken/,
    );
    push().behave(laptop, null);

    // A second browser subscribes: reloaded, the list has both, and the new one is the latest.
    const other = await openPage(t);
    const phone = await subscribeAs(other.page, 'Phone');
    await page.reload();
    await device(page, 'Phone').waitFor();
    assert.deepEqual(await page.locator('#device-list .device-name').allTextContents(), [
      'Kitchen laptop',
      'Phone',
    ]);
    assert.equal(await device(page, 'Phone').locator('.badge').isVisible(), true);
    assert.equal(await device(page, 'Kitchen laptop').locator('.badge').isVisible(), false);

    // The send form reaches the one device chosen, not the latest.
    mark = push().received.length;
    await page.getByLabel('Title', { exact: true }).fill('Dinner');
    await page.getByLabel('Message', { exact: true }).fill('is ready');
    await page.getByLabel('To', { exact: true }).selectOption('Kitchen laptop');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.locator('#send-report', { hasText: 'Delivered: 1.' }).waitFor();
    await arrives(laptop, 'Dinner', mark);
    await push()
      .waitFor(push().received.length + 1, 500)
      .catch(() => {});
    const dinners = push()
      .received.slice(mark)
      .filter((r) => notificationOf(r.payload).title === 'Dinner');
    assert.deepEqual(
      dinners.map((r) => r.endpoint),
      [laptop],
    );
    assert.deepEqual(notificationOf(dinners[0]?.payload), {
      title: 'Dinner',
      body: 'is ready',
      navigate: `${origin}/`,
    });
    assert.notEqual(phone, laptop);

    // Remove asks once: dismissed, nothing happens; accepted, the device leaves the list.
    page.once('dialog', (dialog) => dialog.dismiss());
    await device(page, 'Phone').getByRole('button', { name: 'Remove' }).click();
    assert.ok((await storedSubscriptions(server)).some((s) => s.endpoint === phone));
    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      return dialog.accept();
    });
    await device(page, 'Phone').getByRole('button', { name: 'Remove' }).click();
    await page.locator('#devices-status', { hasText: 'Removed “Phone”.' }).waitFor();
    await device(page, 'Phone').waitFor({ state: 'detached' });
    assert.match(asked, /^Remove “Phone”\?/);
    assert.deepEqual(await page.locator('#device-list .device-name').allTextContents(), [
      'Kitchen laptop',
    ]);
    assert.ok(!(await storedSubscriptions(server)).some((s) => s.endpoint === phone));

    // Removing this browser's own device unsubscribes it here too.
    page.once('dialog', (dialog) => dialog.accept());
    await device(page, 'Kitchen laptop').getByRole('button', { name: 'Remove' }).click();
    await page.locator('#status[data-state="not-subscribed"]').waitFor();
    await page.locator('#devices-empty').waitFor();
    assert.equal(await page.evaluate(readEndpoint), null);
    assert.deepEqual(errors, []);
  });

  test('the send form sends a picture, two buttons, the app badge, the flags and the time', async (t) => {
    const { page, errors } = await openPage(t);
    const endpoint = await subscribeAs(page, 'Form laptop');
    await device(page, 'Form laptop').waitFor();
    const mark = push().received.length;
    const field = (label: string) => page.getByLabel(label, { exact: true });
    await field('Title').fill('Front door');
    await field('Message').fill('Someone is at the door');
    await field('Link (opened by a click on the notification)').fill('/cams');
    await page.getByText('Picture, buttons, app badge and more').click();
    await field('Picture (shown large where the platform can)').fill('/icon-512.png');
    await field('First button').fill('Open camera');
    await field("First button's link").fill('/cams/door');
    await field('Second button').fill('Silence');
    await field("Second button's link").fill('https://alerts.example/silence?for=1h');
    await field("Number on the app's icon (0 clears it)").fill('2');
    await field('Tag (replaces the shown notification with the same tag)').fill('door');
    await field('When it happened').fill('2026-12-06T21:30:05');
    await page.getByLabel('Stays on screen until dismissed').check();
    await page.getByLabel('Quiet: no sound or vibration').check();
    await page.getByLabel('Alert again when it replaces one with the same tag').check();
    await field('To').selectOption('Form laptop');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.locator('#send-report', { hasText: 'Delivered: 1.' }).waitFor();
    await arrives(endpoint, 'Front door', mark);
    const message = push()
      .received.slice(mark)
      .find((r) => notificationOf(r.payload).title === 'Front door');
    const silence = 'https://alerts.example/silence?for=1h';
    const checked = checkDeclarative(message?.payload ?? '', { origin, external: [silence] });
    assert.deepEqual(checked.problems, []);
    assert.equal(checked.message?.app_badge, 2);
    // The page sends the time it shows in its own zone; the payload has it in ms since 1970.
    const shownTime = await page.evaluate(() => new Date('2026-12-06T21:30:05').getTime());
    assert.deepEqual(checked.notification, {
      title: 'Front door',
      body: 'Someone is at the door',
      navigate: `${origin}/cams`,
      tag: 'door',
      image: `${origin}/icon-512.png`,
      actions: [
        { action: 'action-1', title: 'Open camera', navigate: `${origin}/cams/door` },
        { action: 'action-2', title: 'Silence', navigate: silence },
      ],
      silent: true,
      requireInteraction: true,
      renotify: true,
      timestamp: shownTime,
    });

    // A wrong value is refused with the parser's message, and nothing is sent.
    const before = push().received.length;
    await field('First button').fill('');
    await field("First button's link").fill('not a link');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page
      .locator('#send-report', { hasText: 'Not sent: actions[0].title is empty' })
      .waitFor();
    assert.equal(push().received.length, before);
    assert.deepEqual(
      errors.filter((e) => !/status of 4\d\d/.test(e)),
      [],
    );
  });
});
