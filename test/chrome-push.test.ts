import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { Agent, request } from 'undici';
import webpush from 'web-push';
import {
  type ChromiumProfile,
  chromiumArgs,
  chromiumOrReason,
  launchChromiumProfile,
} from './support/chromium.ts';
import { eventually } from './support/eventually.ts';
import { startFcmService } from './support/fcm-service.ts';
import { startLan } from './support/lan.ts';
import { startedOrReason } from './support/or-reason.ts';
import { type OwnHosts, ownHosts } from './support/own-hosts.ts';
import {
  childEnv,
  runScript,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from './support/processes.ts';
import { type PushEvent, recordPushEvents } from './support/push-events.ts';
import { serverPublicKey, storedSubscriptions } from './support/server-state.ts';
import { dropSubscription, readEndpoint, readNotifications } from './support/worker.ts';

// Chromium's own push client, offline: its GCM client checks in, registers and keeps its MCS
// connection with the FCM stand-in; the server under test pushes to https://jmt17.google.com,
// a name that resolves to the stand-in for the server and `npm run send` alone. Chromium runs in
// a LAN namespace of the test's own: with loopback alone (a machine offline) it takes itself to
// be offline and never opens its MCS connection.
const chromiumFound = chromiumOrReason();
const found = await startedOrReason(async () => {
  const fcm = await startFcmService();
  let hosts: OwnHosts | undefined;
  try {
    hosts = await ownHosts({ [fcm.host]: fcm.address });
    return { fcm, hosts, lan: await startLan() };
  } catch (error) {
    await hosts?.close();
    await fcm.close();
    throw error;
  }
}, 'the FCM stand-in needs root (port 443, a mount namespace for the server, a network namespace for Chromium), unshare and nsenter from util-linux and ip from iproute2');
after(async () => {
  await found.value?.lan.close();
  await found.value?.hosts.close();
  await found.value?.fcm.close();
});

// A test of its own, so what is missing shows in the summary: skipped with the line that fixes
// it, or (CI=true) failed with it, never silently left out.
test('finds Chromium, and can run the server where jmt17.google.com is the FCM stand-in', {
  skip: chromiumFound.skip || found.skip,
}, () => {
  assert.ok(chromiumFound.path, chromiumFound.missing);
  if (found.missing) assert.fail(found.missing);
});

const suiteSkip =
  chromiumFound.skip || found.skip || Boolean(chromiumFound.missing || found.missing);
describe("the page in Chromium, through Chromium's own push client and an FCM stand-in", {
  skip: suiteSkip,
  timeout: 120_000,
}, () => {
  const { fcm, hosts, lan } = found.value ?? ({} as NonNullable<typeof found.value>);
  let server: ServerProcess;
  let chromium: ChromiumProfile | undefined;
  let page: Page;
  let events: PushEvent[];
  let launchMs = 0;
  /** The page's current subscription. */
  let endpoint = '';
  const errors: string[] = [];
  // No PUSH_ALLOWED_HOSTS: jmt17.google.com is among the push services allowed by default.
  const env = () => childEnv({ caFile: fcm.caFile, host: fcm.host }, { PUSH_ALLOWED_HOSTS: '' });

  before(async () => {
    server = await startServerProcess({
      dir: await tempDir('swps-chrome-push-'),
      env: env(),
      spawn: hosts.spawn,
    });
    // What Chromium reaches, from inside its namespace at the same addresses: the page, and the
    // stand-in's check-in, registration and MCS.
    for (const url of [server.httpUrl, fcm.registry.checkinUrl, fcm.mcs.endpoint]) {
      await lan.expose(Number(new URL(url).port));
    }
    const started = Date.now();
    chromium = await launchChromiumProfile({
      executablePath: await lan.wrap(chromiumFound.path as string),
      args: [...chromiumArgs(), ...fcm.chromiumArgs],
      permissions: ['notifications'],
    });
    launchMs = Date.now() - started;
    chromium.context.setDefaultTimeout(10_000);
    page = chromium.context.pages()[0] ?? (await chromium.context.newPage());
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    events = await recordPushEvents(chromium.context, page);
  });

  after(async () => {
    await chromium?.close();
    await server?.stop('SIGKILL');
    if (server) await rm(server.dir, { recursive: true, force: true });
  });

  /** Where the page is opened: the subscription's origin, which its links point at. */
  const origin = () => server.httpUrl.replace('127.0.0.1', 'localhost');

  /** (Re)loads the page at http://localhost, a secure context, and waits until it knows its state. */
  async function openPage(): Promise<void> {
    await page.goto(`${origin()}/`);
    await page.locator('#status:not([data-state="checking"])').waitFor();
  }
  const click = (name: string) => page.getByRole('button', { name, exact: true }).click();
  const status = (state: string) => page.locator(`#status[data-state="${state}"]`).waitFor();
  const pageEndpoint = () => page.evaluate(readEndpoint);
  const stored = () => storedSubscriptions(server);
  const storedEndpoints = async () => (await stored()).map((s) => s.endpoint);
  const serverKey = () => serverPublicKey(server);
  const send = (args: string[]) =>
    runScript('send', args, { cwd: server.dir, env: env(), spawn: hosts.spawn });
  const sameKey = (a: string | undefined, b: string) =>
    Buffer.from(a ?? '', 'base64url').equals(Buffer.from(b, 'base64url'));
  const seen = () =>
    `stand-in rejected: ${fcm.rejected.map((r) => `${r.status} ${r.reason}`).join('; ') || 'none'}; Chromium's push log: ${events.map((e) => `${e.name} ${JSON.stringify(e.metadata)}`).join('; ') || 'empty'}`;

  /** The first message the stand-in forwarded to `to` after the first `skip`. */
  const forwardedTo = (to: string, skip = 0) =>
    eventually(
      `the stand-in to forward a message for ${to}`,
      () => fcm.forwarded.slice(skip).find((m) => m.endpoint === to),
      { detail: seen },
    );
  /** The first event named `name` in Chromium's push log after the first `from`. */
  const pushEvent = (name: string, from: number) =>
    eventually(
      `"${name}" in Chromium's push log`,
      () => events.slice(from).find((e) => e.name === name),
      { detail: seen },
    );
  /**
   * Waits until Chromium received the next push after log entry `from` over MCS, decrypted it
   * and ran the worker's push event to the end (reading notifications before can miss one), then
   * returns the notification titled `title`.
   */
  async function shown(title: string, from: number) {
    const received = await pushEvent('Push message received', from);
    assert.equal(received.metadata.Success, 'Yes', `Chromium could not use the push: ${seen()}`);
    const completed = await pushEvent('Push event completed', from);
    assert.equal(completed.metadata.Status, 'Success', seen());
    return eventually(`a notification titled "${title}"`, async () =>
      (await page.evaluate(readNotifications)).find((n) => n.title === title),
    );
  }

  test("the page's Subscribe button subscribes through the stand-in, and the server stores that endpoint", async (t) => {
    t.diagnostic(`Chromium launched in ${launchMs} ms`);
    await openPage();
    assert.match((await page.locator('#status').textContent()) ?? '', /not subscribed/i);
    const clicked = Date.now();
    await click('Subscribe');
    await status('subscribed');
    t.diagnostic(`subscribed in ${Date.now() - clicked} ms (check-in, registration, MCS login)`);
    endpoint = (await pageEndpoint()) ?? '';
    assert.match(endpoint, /^https:\/\/jmt17\.google\.com\/fcm\/send\/[\w-]+$/);
    const registration = fcm.registration(endpoint);
    assert.ok(registration, `the stand-in issued no token for ${endpoint}`);
    // What Chromium registered: its web push app, the page's app id, the server's VAPID key.
    assert.equal(registration.form.app, 'org.chromium.linux');
    assert.equal(registration.form.scope, 'GCM');
    assert.match(registration.form['X-subtype'] ?? '', /^wp:http:\/\/localhost:\d+\/#[\w-]+-V2$/);
    assert.ok(sameKey(registration.form.sender, await serverKey()), registration.form.sender);
    // It logged in to MCS as the device it registered with.
    assert.ok(
      fcm.mcs.logins.some((login) => login.user === registration.androidId),
      JSON.stringify(fcm.mcs.logins),
    );
    assert.deepEqual(await storedEndpoints(), [endpoint]);
    assert.deepEqual(errors, []);
  });

  test('the welcome push reaches Chromium over MCS, Chromium decrypts it and the worker shows it', async () => {
    const welcome = await forwardedTo(endpoint);
    assert.equal(welcome.claims.aud, 'https://jmt17.google.com');
    assert.match(welcome.claims.sub, /^(mailto|https):/);
    assert.equal(welcome.vapidPublicKey, await serverKey());
    const notification = await shown('Notifications are on', 0);
    assert.equal(
      notification.body,
      'This browser will now receive notifications from your server.',
    );
    assert.deepEqual(notification.data, { url: `${origin()}/`, actions: {} });
    await page.locator('#detail', { hasText: 'welcome notification is on its way' }).waitFor();
  });

  test('npm run send -- --title T --url /x "text" is shown with that title, body and URL', async () => {
    const [forwarded, logged] = [fcm.forwarded.length, events.length];
    const sent = await send(['--title', 'T', '--url', '/x', 'text']);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.match(sent.stdout, /delivered 1/);
    await forwardedTo(endpoint, forwarded);
    const notification = await shown('T', logged);
    assert.equal(notification.body, 'text');
    assert.deepEqual(notification.data, { url: `${origin()}/x`, actions: {} });
  });

  test("an image, two actions and requireInteraction come through Chromium's own push client", async () => {
    const [forwarded, logged] = [fcm.forwarded.length, events.length];
    const sent = await send([
      ...['--title', 'Rich', '--image', '/icon-512.png', '--require-interaction'],
      ...['--action', 'Open log=/log', '--action', 'Home=/', 'Disk 91% full'],
    ]);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    await forwardedTo(endpoint, forwarded);
    const notification = await shown('Rich', logged);
    assert.equal(notification.image, `${origin()}/icon-512.png`);
    assert.equal(notification.requireInteraction, true);
    assert.deepEqual(notification.actions, [
      { action: 'action-1', title: 'Open log' },
      { action: 'action-2', title: 'Home' },
    ]);
    assert.deepEqual(notification.data, {
      url: `${origin()}/`,
      actions: { 'action-1': `${origin()}/log`, 'action-2': `${origin()}/` },
    });
  });

  /** POSTs `title` to the stored `subscription` as our server would, its last byte flipped if `corrupt`. */
  async function post(subscription: webpush.PushSubscription, title: string, corrupt: boolean) {
    const vapid = JSON.parse(await readFile(join(server.dir, 'vapid.json'), 'utf8'));
    const details = webpush.generateRequestDetails(subscription, JSON.stringify({ title }), {
      vapidDetails: vapid,
      TTL: 60,
    });
    const body = Buffer.from(details.body as Buffer);
    if (corrupt) body[body.length - 1] = (body.at(-1) ?? 0) ^ 0xff; // a byte of the AES-GCM tag
    // This process does not resolve jmt17.google.com: it connects to the stand-in's address and
    // checks the certificate for that name.
    const agent = new Agent({ connect: { ca: fcm.ca, servername: fcm.host } });
    try {
      const path = new URL(subscription.endpoint).pathname;
      const response = await request(`https://${fcm.address}${path}`, {
        method: 'POST',
        headers: details.headers,
        body,
        dispatcher: agent,
      });
      await response.body.dump();
      return response.statusCode;
    } finally {
      await agent.close();
    }
  }

  test('a body corrupted in one byte is dropped by Chromium as undecryptable, and not shown', async () => {
    const subscription = (await stored()).find((s) => s.endpoint === endpoint);
    assert.ok(subscription, 'the subscription is stored');
    const logged = events.length;
    assert.equal(await post(subscription, 'Corrupted', true), 201, seen());
    const received = await pushEvent('Push message received', logged);
    assert.equal(received.metadata.Success, 'No', `Chromium used the corrupted push: ${seen()}`);
    assert.match(received.metadata['Error Reason'] ?? '', /decryption failed/i);
    // The same request, uncorrupted, is shown: only the broken encryption kept the first away.
    const next = events.length;
    assert.equal(await post(subscription, 'Intact', false), 201, seen());
    await shown('Intact', next);
    const titles = (await page.evaluate(readNotifications)).map((n) => n.title);
    assert.ok(!titles.includes('Corrupted'), titles.join(', '));
  });

  test('Unsubscribe on the page: Chromium deletes its token, the store drops it, the stand-in answers 410', async () => {
    const subscription = (await stored()).find((s) => s.endpoint === endpoint);
    assert.ok(subscription, 'the subscription is stored');
    const registration = fcm.registration(endpoint);
    await openPage();
    await click('Unsubscribe');
    await status('not-subscribed');
    await eventually('Chromium to delete its token', () => registration?.deleted || undefined);
    const deletion = fcm.registry.forms.at(-1);
    assert.equal(deletion?.delete, 'true');
    assert.equal(deletion?.['X-subtype'], registration?.form['X-subtype']);
    assert.equal(deletion?.sender, '*');
    assert.deepEqual(await storedEndpoints(), []);
    assert.equal(await pageEndpoint(), null);
    // The next push to it, as a server that still had it would send: 410 Gone.
    assert.equal(await post(subscription, 'Too late', false), 410);
    assert.ok(
      fcm.rejected.some((r) => r.endpoint === endpoint && r.status === 410),
      seen(),
    );
  });

  test('a subscription Chromium dropped by itself gets 410 on the next npm run send, which removes it', async () => {
    let logged = events.length;
    await openPage();
    await click('Subscribe');
    await status('subscribed');
    endpoint = (await pageEndpoint()) ?? '';
    await shown('Notifications are on', logged);
    assert.deepEqual(await storedEndpoints(), [endpoint]);
    // Behind the server's back, as when Chromium drops a subscription on its own.
    assert.equal(await page.evaluate(dropSubscription), true);
    await eventually('Chromium to delete its token', () =>
      fcm.registration(endpoint)?.deleted ? true : undefined,
    );
    assert.deepEqual(await storedEndpoints(), [endpoint]);

    logged = events.length;
    const sent = await send(['Anyone there?']);
    assert.equal(sent.code, 1, 'nothing was delivered');
    assert.match(sent.stdout, /removed 1 expired \(the push service says they are gone\)/);
    assert.ok(
      fcm.rejected.some((r) => r.endpoint === endpoint && r.status === 410),
      seen(),
    );
    assert.deepEqual(await storedEndpoints(), []);
    assert.equal(events.length, logged, 'nothing reached Chromium');
    assert.deepEqual(errors, []);
  });
});
