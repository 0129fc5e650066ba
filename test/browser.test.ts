import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { chromiumOrReason, type LaunchedChromium, launchChromium } from './support/chromium.ts';
import { checkDeclarative, notificationOf } from './support/declarative.ts';
import { type FakePushOptions, fakePush, STORAGE_KEY } from './support/fake-push.ts';
import { useHarness } from './support/harness.ts';
import { certutilOrReason } from './support/nss.ts';
import { ROOT, runScript, type ServerProcess } from './support/processes.ts';
import { pushChannel, shownNotifications, workerActivated } from './support/worker.ts';

const chromiumFound = chromiumOrReason();
const certutilFound = certutilOrReason();
const RESULTS = join(ROOT, 'test-results');

/** The service worker's globals used below (tsconfig has the DOM lib, not WebWorker). */
interface WorkerScope {
  registration: ServiceWorkerRegistration;
  clients: { openWindow(url: string): Promise<unknown> };
  WindowClient: { prototype: { url: string; focus(): Promise<unknown> } };
  NotificationEvent: new (
    type: string,
    init: { notification: Notification; action?: string },
  ) => Event;
  dispatchEvent(event: Event): boolean;
  navigator: { setAppBadge(count?: number): Promise<void>; clearAppBadge(): Promise<void> };
  /** What the wrappers below saw. */
  seen: string[];
}

interface OpenPage {
  context: BrowserContext;
  page: Page;
  origin: string;
  /** Requests the page made, as "METHOD path". */
  requests: string[];
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** The response headers of the page itself. */
  headers: Record<string, string>;
}

// A test of its own, so a missing Chromium shows in the summary: skipped with the one line that
// fixes it, or (CI=true) failed with it, never silently left out.
test('finds Chromium', { skip: chromiumFound.skip }, () => {
  assert.ok(chromiumFound.path, chromiumFound.missing);
});

// The HTTPS test trusts the local CA the way an installed CA is trusted: through NSS.
test('finds certutil', { skip: certutilFound.skip }, () => {
  assert.ok(certutilFound.path, certutilFound.missing);
});
const httpsSkip = certutilFound.skip || certutilFound.missing || false;

const suiteSkip = chromiumFound.skip || chromiumFound.missing || false;
describe('the page in Chromium', { skip: suiteSkip, timeout: 60_000 }, () => {
  let server: ServerProcess;
  let chromium: LaunchedChromium;
  let httpOrigin: string;

  const { push, env, start } = useHarness('swps-browser-');
  before(async () => {
    server = await start();
    // http://localhost is a secure context without a certificate: the URL people open in Chrome.
    httpOrigin = server.httpUrl.replace('127.0.0.1', 'localhost');
    // No certificate flag: the HOME Chromium runs with trusts the server's CA in its NSS database.
    chromium = await launchChromium({
      executablePath: chromiumFound.path as string,
      ...(certutilFound.path
        ? { trust: { certutil: certutilFound.path, caFiles: [join(server.dir, 'certs/ca.pem')] } }
        : {}),
    });
    await mkdir(RESULTS, { recursive: true });
  });

  after(async () => {
    await chromium?.close();
  });

  /** A fresh context (its own storage and worker) on `origin`, closed when test `t` ends. */
  async function openPage(
    t: TestContext,
    origin: string,
    options: FakePushOptions = {},
  ): Promise<OpenPage> {
    const context = await chromium.browser.newContext({
      viewport: { width: 900, height: 700 },
      colorScheme: 'light',
    });
    t.after(() => context.close());
    context.setDefaultTimeout(10_000);
    if (options.permission !== 'denied') {
      await context.grantPermissions(['notifications'], { origin });
    }
    await fakePush(context, () => push().subscribe(), options);
    const page = await context.newPage();
    const opened: OpenPage = { context, page, origin, requests: [], errors: [], headers: {} };
    page.on('request', (request) => {
      opened.requests.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error') opened.errors.push(message.text());
    });
    page.on('pageerror', (error) => opened.errors.push(error.message));
    opened.headers = (await page.goto(`${origin}/`))?.headers() ?? {};
    assert.equal(await workerActivated(page), 'activated');
    await page.locator('#status:not([data-state="checking"])').waitFor();
    return opened;
  }

  /** Clicks the real Subscribe button and waits for the page to say it is subscribed. */
  async function subscribe({ page }: OpenPage): Promise<string> {
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await page.locator('#status[data-state="subscribed"]').waitFor();
    return page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      const subscription = await registration.pushManager.getSubscription();
      if (!subscription) throw new Error('the page has no subscription after subscribing');
      return subscription.endpoint;
    });
  }

  async function storedEndpoints(): Promise<string[]> {
    const text = await readFile(join(server.dir, 'subscription.json'), 'utf8');
    return (JSON.parse(text) as { endpoint: string }[]).map((s) => s.endpoint);
  }

  /** The message titled `title` that the push service accepted for `endpoint`, once it has. */
  async function received(endpoint: string, title: string) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = push().received.find(
        (r) => r.endpoint === endpoint && notificationOf(r.payload).title === title,
      );
      if (found) return found;
      if (Date.now() > deadline) assert.fail(`the push service got no "${title}" for ${endpoint}`);
      await push()
        .waitFor(push().received.length + 1, deadline - Date.now())
        .catch(() => {});
    }
  }

  const statusText = async (page: Page) => (await page.locator('#status').textContent()) ?? '';
  // The buttons of "This browser" (the page has others, such as "Add a phone").
  const buttons = (page: Page) =>
    page.evaluate(() =>
      Object.fromEntries(
        [...document.querySelectorAll<HTMLButtonElement>('.actions button')].map((b) => [
          b.textContent,
          !b.disabled,
        ]),
      ),
    );

  async function subscribesAndGetsTheWelcome(opened: OpenPage, screenshots: string) {
    const { page } = opened;
    assert.match(await statusText(page), /not subscribed/i);
    assert.deepEqual(await buttons(page), {
      Subscribe: true,
      'Send a test notification': false,
      Unsubscribe: false,
    });
    await page.screenshot({ path: join(RESULTS, `${screenshots}-before.png`) });

    const endpoint = await subscribe(opened);
    assert.ok(opened.requests.includes('GET /api/vapid-public-key'), opened.requests.join(', '));
    assert.ok(opened.requests.includes('POST /api/subscriptions'), opened.requests.join(', '));
    // The page subscribed with the server's key, and the server stored what the page posted.
    const response = await fetch(`${server.httpUrl}/api/vapid-public-key`);
    const { publicKey } = (await response.json()) as { publicKey: string };
    const usedKey = await page.evaluate(
      (storageKey) => JSON.parse(localStorage.getItem(storageKey) ?? '{}').key,
      STORAGE_KEY,
    );
    assert.equal(usedKey, publicKey);
    assert.ok((await storedEndpoints()).includes(endpoint), 'subscription.json holds it');

    await received(endpoint, 'Notifications are on');
    assert.equal(await statusText(page), `Subscribed through ${push().host}.`);
    await page.locator('#detail', { hasText: 'welcome notification is on its way' }).waitFor();
    assert.deepEqual(await buttons(page), {
      Subscribe: false,
      'Send a test notification': true,
      Unsubscribe: true,
    });
    await page.screenshot({ path: join(RESULTS, `${screenshots}-after.png`) });
    assert.deepEqual(opened.errors, []);
    return endpoint;
  }

  test('over http://localhost the worker activates and Subscribe sends the welcome push', async (t) => {
    await subscribesAndGetsTheWelcome(await openPage(t, httpOrigin), 'http');
  });

  test('over HTTPS, trusting only the local CA through NSS, Subscribe works the same', {
    skip: httpsSkip,
  }, async (t) => {
    const opened = await openPage(t, server.httpsUrl);
    assert.ok(opened.origin.startsWith('https://'));
    await subscribesAndGetsTheWelcome(opened, 'https');
  });

  test('a message from scripts/send.ts reaches the worker as a notification', async (t) => {
    const opened = await openPage(t, httpOrigin);
    const endpoint = await subscribe(opened);
    // The tests run one at a time, so the latest subscription, send's default, is this one.
    const sent = await runScript(
      'send',
      ['--title', 'Backup', '--url', '/reports/today', 'Backup finished'],
      { cwd: server.dir, env: env() },
    );
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.match(sent.stdout, /delivered 1/);
    const relayed = await received(endpoint, 'Backup');

    const channel = await pushChannel(opened.context, opened.page, opened.origin);
    await channel.push(relayed.payload);
    const shown = await shownNotifications(opened.page);
    assert.equal(shown.length, 1);
    assert.equal(shown[0]?.title, 'Backup');
    assert.equal(shown[0]?.body, 'Backup finished');
    assert.equal(shown[0]?.data?.url, `${opened.origin}/reports/today`);
    assert.equal(shown[0]?.icon, `${opened.origin}/icon-192.png`);
    await channel.detach();
  });

  test('a plain-text push shows the default title with the text as its body', async (t) => {
    const opened = await openPage(t, httpOrigin);
    const channel = await pushChannel(opened.context, opened.page, opened.origin);
    await channel.push('The build is green');
    const shown = await shownNotifications(opened.page);
    assert.deepEqual(
      shown.map(({ title, body, data }) => ({ title, body, data })),
      [
        {
          title: 'Simple Web Push',
          body: 'The build is green',
          data: { url: `${opened.origin}/`, actions: {} },
        },
      ],
    );
    await channel.detach();
  });

  test('a message in the form of earlier versions ({title, body, url}) is still shown', async (t) => {
    const opened = await openPage(t, httpOrigin);
    const channel = await pushChannel(opened.context, opened.page, opened.origin);
    await channel.push(
      JSON.stringify({ title: 'Queued', body: 'before the upgrade', url: '/old' }),
    );
    const shown = await shownNotifications(opened.page);
    assert.deepEqual(
      shown.map(({ title, body, data }) => ({ title, body, data })),
      [
        {
          title: 'Queued',
          body: 'before the upgrade',
          data: { url: `${opened.origin}/old`, actions: {} },
        },
      ],
    );
    await channel.detach();
  });

  /** Runs `npm run send` with `args` to the latest (`opened`'s): the payload the push service got. */
  async function sentTo(opened: OpenPage, args: string[], title: string): Promise<string> {
    const endpoint =
      (await opened.page.evaluate(async () => {
        const registration = await navigator.serviceWorker.ready;
        return (await registration.pushManager.getSubscription())?.endpoint;
      })) ?? (await subscribe(opened));
    const sent = await runScript('send', [...args, '--title', title, 'Disk 91% full'], {
      cwd: server.dir,
      env: env(),
    });
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    const { payload } = await received(endpoint, title);
    assert.deepEqual(checkDeclarative(payload, { origin: opened.origin }).problems, []);
    return payload;
  }

  test('every option of npm run send reaches the notification Chromium shows', async (t) => {
    const opened = await openPage(t, httpOrigin);
    const payload = await sentTo(
      opened,
      [
        ...['--url', '/status', '--image', '/icon-512.png', '--badge', '/icon.svg'],
        ...['--action', 'Open log=/log', '--action', 'Home=/', '--require-interaction', '--silent'],
        ...['--tag', 'disk', '--renotify', '--timestamp', '2026-12-06T21:30:00Z'],
      ],
      'Every option',
    );
    const channel = await pushChannel(opened.context, opened.page, opened.origin);
    await channel.push(payload);
    const [shown, more] = await shownNotifications(opened.page);
    assert.equal(more, undefined);
    const { origin } = opened;
    assert.deepEqual(shown, {
      title: 'Every option',
      body: 'Disk 91% full',
      tag: 'disk',
      icon: `${origin}/icon-192.png`,
      image: `${origin}/icon-512.png`,
      badge: `${origin}/icon.svg`,
      actions: [
        { action: 'action-1', title: 'Open log' },
        { action: 'action-2', title: 'Home' },
      ],
      requireInteraction: true,
      silent: true,
      renotify: true,
      timestamp: Date.UTC(2026, 11, 6, 21, 30),
      data: {
        url: `${origin}/status`,
        actions: { 'action-1': `${origin}/log`, 'action-2': `${origin}/` },
      },
    });
    await channel.detach();
  });

  test('a click on each action opens its URL, on the body navigate; a tab already there is focused', async (t) => {
    const opened = await openPage(t, httpOrigin);
    const payload = await sentTo(
      opened,
      ['--url', '/status', '--action', 'Open log=/log', '--action', 'Home=/'],
      'Click me',
    );
    const channel = await pushChannel(opened.context, opened.page, opened.origin);
    // Three notifications from three pushes, one for each click.
    for (let i = 0; i < 3; i++) await channel.push(payload);
    const worker =
      opened.context.serviceWorkers()[0] ?? (await opened.context.waitForEvent('serviceworker'));
    // A synthetic notificationclick may not open windows (DESIGN.md): the calls are recorded,
    // then made, and Chromium's refusal of openWindow is recorded too.
    const clicks = await worker.evaluate(async () => {
      const sw = globalThis as unknown as WorkerScope;
      const seen: string[] = [];
      const openWindow = sw.clients.openWindow.bind(sw.clients);
      sw.clients.openWindow = async (url) => {
        seen.push(`open ${url}`);
        return openWindow(url).catch((error: Error) => seen.push(`refused: ${error.message}`));
      };
      const focus = sw.WindowClient.prototype.focus;
      sw.WindowClient.prototype.focus = async function () {
        seen.push(`focus ${this.url}`);
        return focus.call(this).catch((error: Error) => seen.push(`refused: ${error.message}`));
      };
      const shown = await sw.registration.getNotifications();
      if (shown.length !== 3) throw new Error(`${shown.length} notifications shown, not 3`);
      for (const [index, action] of ['action-1', 'action-2', ''].entries()) {
        const notification = shown[index] as Notification;
        const event = new sw.NotificationEvent('notificationclick', { notification, action });
        // waitUntil refuses untrusted events; collect the promise and await it here instead.
        const pending: Promise<unknown>[] = [];
        Object.defineProperty(event, 'waitUntil', { value: pending.push.bind(pending) });
        sw.dispatchEvent(event);
        await Promise.all(pending);
      }
      seen.push(`${(await sw.registration.getNotifications()).length} left`);
      return seen;
    });
    t.diagnostic(clicks.join('; '));
    const { origin } = opened;
    assert.deepEqual(
      clicks.filter((line) => !line.startsWith('refused')),
      [`open ${origin}/log`, `focus ${origin}/`, `open ${origin}/status`, '0 left'],
    );
    assert.match(clicks.join('\n'), /refused: Not allowed to open a window/);
    await channel.detach();
  });

  test('app_badge sets the number on the app icon with setAppBadge, and 0 clears it', async (t) => {
    const opened = await openPage(t, httpOrigin);
    const payloads = [
      await sentTo(opened, ['--app-badge', '3'], 'Three'),
      await sentTo(opened, ['--app-badge', '0'], 'None'),
    ];
    const channel = await pushChannel(opened.context, opened.page, opened.origin);
    const worker =
      opened.context.serviceWorkers()[0] ?? (await opened.context.waitForEvent('serviceworker'));
    // Recorded, then passed on to Chromium's own setAppBadge and clearAppBadge.
    await worker.evaluate(() => {
      const sw = globalThis as unknown as WorkerScope;
      sw.seen = [];
      const { setAppBadge, clearAppBadge } = sw.navigator;
      sw.navigator.setAppBadge = (count) => {
        sw.seen.push(`setAppBadge(${count})`);
        return setAppBadge.call(sw.navigator, count);
      };
      sw.navigator.clearAppBadge = () => {
        sw.seen.push('clearAppBadge()');
        return clearAppBadge.call(sw.navigator);
      };
    });
    for (const payload of payloads) await channel.push(payload);
    const seen = await worker.evaluate(() => (globalThis as unknown as WorkerScope).seen);
    assert.deepEqual(seen, ['setAppBadge(3)', 'clearAppBadge()']);
    const titles = (await shownNotifications(opened.page)).map((n) => n.title);
    assert.deepEqual(titles.sort(), ['None', 'Three']);
    await channel.detach();
  });

  test('"Send a test notification" pushes to this browser and Unsubscribe removes it', async (t) => {
    const opened = await openPage(t, httpOrigin);
    const { page } = opened;
    const endpoint = await subscribe(opened);
    await received(endpoint, 'Notifications are on');

    await page.getByRole('button', { name: 'Send a test notification' }).click();
    await page.locator('#detail', { hasText: 'Test notification sent.' }).waitFor();
    await received(endpoint, 'Test notification');

    await page.getByRole('button', { name: 'Unsubscribe' }).click();
    await page.locator('#status[data-state="not-subscribed"]').waitFor();
    assert.match(await statusText(page), /not subscribed/i);
    assert.ok(!(await storedEndpoints()).includes(endpoint), 'subscription.json no longer has it');
    assert.deepEqual(await buttons(page), {
      Subscribe: true,
      'Send a test notification': false,
      Unsubscribe: false,
    });
    assert.deepEqual(opened.errors, []);
  });

  test('denied permission shows the blocked status and posts nothing', async (t) => {
    const opened = await openPage(t, httpOrigin, { permission: 'denied' });
    const { page } = opened;
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await page.locator('#status[data-state="blocked"]').waitFor();
    assert.match(await statusText(page), /blocked/);
    assert.match((await page.locator('#detail').textContent()) ?? '', /site settings/);
    assert.deepEqual(
      opened.requests.filter((r) => r.includes('/api/subscriptions')),
      [],
    );
    assert.deepEqual(await buttons(page), {
      Subscribe: false,
      'Send a test notification': false,
      Unsubscribe: false,
    });
    await page.screenshot({ path: join(RESULTS, 'blocked.png') });
  });

  test('the page loads cleanly with a strict CSP and an installable manifest', async (t) => {
    const opened = await openPage(t, httpOrigin);
    const { page } = opened;
    const csp = opened.headers['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(opened.headers['x-content-type-options'], 'nosniff');
    assert.ok(opened.headers['referrer-policy'], 'a Referrer-Policy');
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    assert.equal(await page.title(), 'Simple Web Push');

    const href = await page.locator('link[rel="manifest"]').getAttribute('href');
    const manifestUrl = new URL(href ?? '', page.url());
    const manifest = await page.evaluate(
      async (url) => (await fetch(url)).json(),
      manifestUrl.href,
    );
    assert.equal(manifest.name, 'Simple Web Push');
    assert.equal(manifest.start_url, '/');
    assert.equal(manifest.display, 'standalone');
    const icon = manifest.icons.find(
      (i: { sizes: string; type: string }) => i.sizes === '192x192' && i.type === 'image/png',
    );
    assert.ok(icon, 'a 192x192 PNG icon');
    const size = await page.evaluate(async (src) => {
      const image = new Image();
      image.src = src;
      await image.decode();
      return [image.naturalWidth, image.naturalHeight];
    }, new URL(icon.src, manifestUrl).href);
    assert.deepEqual(size, [192, 192]);
    assert.deepEqual(opened.errors, []);
  });

  test('clicking a notification focuses the tab on its url, or opens it', async (t) => {
    const opened = await openPage(t, httpOrigin);
    const worker =
      opened.context.serviceWorkers()[0] ?? (await opened.context.waitForEvent('serviceworker'));
    // A synthetic click cannot open windows, so record the worker's choice instead (DESIGN.md).
    const choices = await worker.evaluate(async () => {
      const sw = globalThis as unknown as WorkerScope;
      const actions: string[] = [];
      sw.clients.openWindow = async (url) => {
        actions.push(`open ${url}`);
        return null;
      };
      sw.WindowClient.prototype.focus = async function () {
        actions.push(`focus ${this.url}`);
        return this;
      };
      for (const url of ['/', '/reports/today', 'https://example.com/x']) {
        await sw.registration.showNotification('Click me', { tag: url, data: { url } });
        const [notification] = await sw.registration.getNotifications({ tag: url });
        if (!notification) throw new Error(`no notification for ${url}`);
        const event = new sw.NotificationEvent('notificationclick', { notification });
        // waitUntil refuses untrusted events; collect the promise and await it here instead.
        const pending: Promise<unknown>[] = [];
        Object.defineProperty(event, 'waitUntil', { value: pending.push.bind(pending) });
        sw.dispatchEvent(event);
        await Promise.all(pending);
      }
      return { actions, left: (await sw.registration.getNotifications()).length };
    });
    assert.deepEqual(choices.actions, [
      `focus ${opened.origin}/`,
      `open ${opened.origin}/reports/today`,
      'open https://example.com/x',
    ]);
    assert.equal(choices.left, 0, 'each clicked notification is closed');
  });
});
