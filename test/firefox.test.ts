import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import { Agent, request } from 'undici';
import webpush from 'web-push';
import { eventually } from './support/eventually.ts';
import { closeFirefox, firefoxOrReason, launchFirefox } from './support/firefox.ts';
import {
  type FirefoxPushService,
  type Forwarded,
  startFirefoxPushService,
} from './support/firefox-push-service.ts';
import {
  childEnv,
  runScript,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from './support/processes.ts';
import { serverPublicKey, storedSubscriptions } from './support/server-state.ts';
import { dropSubscription, readEndpoint, readNotifications } from './support/worker.ts';

const firefoxFound = firefoxOrReason();
const ACKS: Record<number, string> = {
  100: 'decrypted and delivered',
  101: 'decryption failed',
  102: 'not delivered',
};

/** Fails unless Firefox acked `message` with 100: it decrypted it and gave it to the worker. */
async function expectAcked100(message: Forwarded): Promise<void> {
  const code = await eventually(`Firefox's ack of message ${message.version}`, () => message.ack);
  const meaning = ACKS[code] ?? 'unknown code';
  assert.equal(code, 100, `Firefox acked the message with ${code} (${meaning}), not 100`);
  assert.equal(message.nack, undefined, `the worker failed on the message (${message.nack})`);
}

// A test of its own, so a missing Firefox shows in the summary: skipped with the one line that
// fixes it, or (CI=true) failed with it, never silently left out.
test('finds Firefox', { skip: firefoxFound.skip }, () => {
  assert.ok(firefoxFound.path, firefoxFound.missing);
});

const suiteSkip = firefoxFound.skip || firefoxFound.missing || false;
describe('the page in Firefox, through its own push client', {
  skip: suiteSkip,
  timeout: 180_000,
}, () => {
  let service: FirefoxPushService;
  let server: ServerProcess;
  let browser: Browser | undefined;
  let page: Page;
  let profile: string | undefined;
  let launchMs = 0;
  /** The page's current subscription. */
  let endpoint = '';
  const errors: string[] = [];

  before(async () => {
    service = await startFirefoxPushService();
    server = await startServerProcess({
      dir: await tempDir('swps-firefox-'),
      env: childEnv(service),
    });
    profile = await tempDir('swps-firefox-profile-');
    const started = Date.now();
    browser = await launchFirefox({
      path: firefoxFound.path ?? '',
      serverURL: service.serverURL,
      profile,
    });
    launchMs = Date.now() - started;
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
  });

  after(async () => {
    await closeFirefox(browser);
    await server?.stop('SIGKILL');
    await service?.close();
    for (const dir of [profile, server?.dir]) {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  /** Where the page is opened: the subscription's origin, which its links point at. */
  const origin = () => server.httpUrl.replace('127.0.0.1', 'localhost');

  /** (Re)loads the page at http://localhost, a secure context, and waits until it knows its state. */
  async function openPage(): Promise<void> {
    await page.goto(`${origin()}/`);
    await eventually('the service worker to be activated', () =>
      page.evaluate(async () => {
        const registration = await navigator.serviceWorker.ready;
        return registration.active?.state === 'activated' ? true : undefined;
      }),
    );
    await page.waitForSelector('#status:not([data-state="checking"])');
  }

  /** Clicks the page's button named `name`, as a person would. */
  const click = (name: string) =>
    page.locator(`::-p-aria([name="${name}"][role="button"])`).click();
  const status = (state: string) => page.waitForSelector(`#status[data-state="${state}"]`);
  const pageEndpoint = () => page.evaluate(readEndpoint);
  const stored = () => storedSubscriptions(server);
  const storedEndpoints = async () => (await stored()).map((s) => s.endpoint);
  const serverKey = () => serverPublicKey(server);
  const send = (args: string[]) =>
    runScript('send', args, { cwd: server.dir, env: childEnv(service) });
  const rejections = () =>
    `rejected: ${service.rejected.map((r) => `${r.status} ${r.reason}`).join('; ') || 'none'}`;

  /** The first message forwarded to `to` after the first `skip` messages. */
  const forwardedTo = (to: string, skip = 0) =>
    eventually(
      `a message for ${to}`,
      () => service.forwarded.slice(skip).find((m) => m.endpoint === to),
      { detail: rejections },
    );
  /** The notification titled `title` once the worker has shown it. */
  const shown = (title: string) =>
    eventually(`a notification titled "${title}"`, async () =>
      (await page.evaluate(readNotifications)).find((n) => n.title === title),
    );

  test('Subscribe registers a Firefox channel with the server key and stores its endpoint', async (t) => {
    t.diagnostic(`Firefox launched in ${launchMs} ms`);
    await openPage();
    assert.match((await page.$eval('#status', (e) => e.textContent)) ?? '', /not subscribed/i);
    await click('Subscribe');
    await status('subscribed');
    endpoint = (await pageEndpoint()) ?? '';
    const channel = service.channel(endpoint);
    assert.ok(channel, `Firefox registered no channel for ${endpoint}`);
    assert.ok(endpoint.startsWith(`${service.origin}/`), endpoint);
    assert.equal(channel.key?.toString('base64url'), await serverKey());
    assert.deepEqual(await storedEndpoints(), [endpoint]);
    assert.deepEqual(errors, []);
  });

  test('the welcome push passes VAPID, Firefox decrypts it (ack 100) and the worker shows it', async () => {
    const welcome = await forwardedTo(endpoint);
    assert.equal(welcome.claims.aud, service.origin);
    assert.match(welcome.claims.sub, /^(mailto|https):/);
    assert.equal(welcome.vapidPublicKey, await serverKey());
    await expectAcked100(welcome);
    const notification = await shown('Notifications are on');
    assert.equal(
      notification.body,
      'This browser will now receive notifications from your server.',
    );
    // Shown by our service worker (a browser showing the message by itself sets no data).
    assert.deepEqual(notification.data, { url: `${origin()}/`, actions: {} });
  });

  test('npm run send reaches Firefox: acked 100 and shown with its title, body and url', async () => {
    const before = service.forwarded.length;
    const sent = await send(['--title', 'Backup', '--url', '/reports/today', 'Backup finished']);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.match(sent.stdout, /delivered 1/);
    await expectAcked100(await forwardedTo(endpoint, before));
    const notification = await shown('Backup');
    assert.equal(notification.body, 'Backup finished');
    assert.deepEqual(notification.data, { url: `${origin()}/reports/today`, actions: {} });
  });

  test('an image, two actions and requireInteraction reach Firefox and are shown with them', async () => {
    const before = service.forwarded.length;
    const sent = await send([
      ...['--title', 'Disk', '--image', '/icon-512.png', '--require-interaction'],
      ...['--action', 'Open log=/log', '--action', 'Silence=https://alerts.example/silence'],
      'Disk 91% full',
    ]);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    await expectAcked100(await forwardedTo(endpoint, before));
    const notification = await shown('Disk');
    assert.equal(notification.body, 'Disk 91% full');
    assert.equal(notification.requireInteraction, true);
    assert.deepEqual(notification.actions, [
      { action: 'action-1', title: 'Open log' },
      { action: 'action-2', title: 'Silence' },
    ]);
    assert.deepEqual(notification.data, {
      url: `${origin()}/`,
      actions: {
        'action-1': `${origin()}/log`,
        'action-2': 'https://alerts.example/silence',
      },
    });
    // Firefox shows no image (its Notification has no image member, nor badge, renotify or
    // timestamp): the Chromium test shows the image reaching the notification.
    assert.equal(notification.image, undefined);
  });

  test('a body Firefox cannot decrypt is acked 101, and the delivery check fails on it', async (t) => {
    const subscription = (await stored()).find((s) => s.endpoint === endpoint);
    assert.ok(subscription, 'the subscription is stored');
    const vapid = JSON.parse(await readFile(join(server.dir, 'vapid.json'), 'utf8'));
    const agent = new Agent({ connect: { ca: service.ca } });
    t.after(() => agent.close());
    /** POSTs {title, body} (the form of earlier versions) as a server would, its last byte flipped if `corrupt`. */
    const post = async (
      title: string,
      corrupt: boolean,
      more: Record<string, string> = { body: 'sent by the test' },
    ): Promise<Forwarded> => {
      const details = webpush.generateRequestDetails(
        subscription,
        JSON.stringify({ title, ...more }),
        { vapidDetails: vapid, TTL: 60 },
      );
      const body = Buffer.from(details.body as Buffer);
      if (corrupt) body[body.length - 1] = (body.at(-1) ?? 0) ^ 0xff; // a byte of the AES-GCM tag
      const before = service.forwarded.length;
      const response = await request(endpoint, {
        method: 'POST',
        headers: details.headers,
        body,
        dispatcher: agent,
      });
      await response.body.dump();
      assert.equal(response.statusCode, 201, rejections());
      return forwardedTo(endpoint, before);
    };

    const corrupted = await post('Corrupted', true);
    // A message in the form of earlier versions, queued before an upgrade, is still shown.
    await expectAcked100(await post('Queued', false, { body: 'before the upgrade', url: '/old' }));
    const queued = await shown('Queued');
    assert.equal(queued.body, 'before the upgrade');
    assert.deepEqual(queued.data, { url: `${origin()}/old`, actions: {} });
    await assert.rejects(
      expectAcked100(corrupted),
      /acked the message with 101 \(decryption failed\)/,
    );
    assert.equal(corrupted.ack, 101);
    // The same request, uncorrupted, passes: only the broken encryption made the check fail.
    await expectAcked100(await post('Intact', false));
    await shown('Intact');
    const titles = (await page.evaluate(readNotifications)).map((n) => n.title);
    assert.ok(!titles.includes('Corrupted'), titles.join(', '));
  });

  test('after a uaid reset the worker subscribes again and the store follows the new endpoint', async () => {
    const old = endpoint;
    service.resetUaid();
    // Firefox reconnects, is told another uaid, drops its subscriptions and fires
    // pushsubscriptionchange; the worker subscribes again and tells the server.
    const fresh = await eventually('a new channel from the worker', () =>
      service.channels().find((c) => c.endpoint !== old),
    );
    endpoint = fresh.endpoint;
    assert.equal(service.gone(old), 'dropped');
    assert.equal(fresh.key?.toString('base64url'), await serverKey());
    await eventually(
      'the store to hold the new endpoint and not the old',
      async () => {
        const endpoints = await storedEndpoints();
        return endpoints.length === 1 && endpoints[0] === endpoint ? true : undefined;
      },
      { detail: () => `old ${old}, new ${endpoint}; server log:\n${server.output()}` },
    );
    assert.equal(await pageEndpoint(), endpoint);

    const before = service.forwarded.length;
    const sent = await send(['--title', 'Still here', 'After the change']);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    await expectAcked100(await forwardedTo(endpoint, before));
    assert.equal((await shown('Still here')).body, 'After the change');
  });

  test('Unsubscribe unregisters the Firefox channel and takes the endpoint out of the store', async () => {
    await openPage();
    await click('Unsubscribe');
    await status('not-subscribed');
    await eventually('Firefox to unregister the channel', () => service.gone(endpoint));
    assert.equal(service.gone(endpoint), 'unregistered');
    assert.deepEqual(await storedEndpoints(), []);
    assert.equal(await pageEndpoint(), null);
  });

  test('a subscription Firefox dropped by itself gets 410 on the next send, which removes it', async () => {
    await openPage();
    await click('Subscribe');
    await status('subscribed');
    endpoint = (await pageEndpoint()) ?? '';
    await expectAcked100(await forwardedTo(endpoint)); // the welcome
    // Behind the server's back, as when the browser drops a subscription on its own.
    assert.equal(await page.evaluate(dropSubscription), true);
    await eventually('Firefox to unregister the channel', () => service.gone(endpoint));
    assert.deepEqual(await storedEndpoints(), [endpoint]);

    const sent = await send(['Anyone there?']);
    assert.equal(sent.code, 1, 'nothing was delivered');
    assert.match(sent.stdout, /removed 1 expired \(the push service says they are gone\)/);
    assert.ok(
      service.rejected.some((r) => r.endpoint === endpoint && r.status === 410),
      rejections(),
    );
    assert.deepEqual(await storedEndpoints(), []);
    assert.deepEqual(errors, []);
  });
});
