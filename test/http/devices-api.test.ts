import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Device } from '../../src/store/devices.ts';
import { notificationOf } from '../support/declarative.ts';
import { postSubscription, useHarness } from '../support/harness.ts';
import { runScript, type ServerProcess } from '../support/processes.ts';
import type { MintedSubscription } from '../support/push-service.ts';

// GET and PATCH /api/devices, the results of sends, and the page's send form, against the real
// server over loopback (the owner's machine). Other addresses: test/devices-lan.test.ts.
const TOKEN = randomBytes(32).toString('base64url');
const { push, env, start } = useHarness('swps-devices-api-');

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function call(
  server: ServerProcess,
  path: string,
  options: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const { method = 'GET', body, headers = {} } = options;
  const response = await fetch(`${server.httpUrl}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: text ? JSON.parse(text) : undefined,
  };
}

const devices = async (server: ServerProcess) => {
  const answer = await call(server, '/api/devices');
  assert.equal(answer.status, 200, answer.text);
  return answer.json as Device[];
};

/** Subscribes as the page does, with `name` beside the subscription. */
async function subscribe(server: ServerProcess, name?: string): Promise<MintedSubscription> {
  const subscription = push().subscribe();
  const response = await postSubscription(server.httpUrl, {
    ...subscription,
    ...(name === undefined ? {} : { name }),
  });
  assert.equal(response.statusCode, 201, await response.body.text());
  return subscription;
}

/** Waits until the push service has answered `count` requests in all. */
const requests = (count: number) =>
  push()
    .waitFor(count)
    .catch(() => undefined);

describe('the list of devices', () => {
  let server: ServerProcess;
  before(async () => {
    server = await start();
  });

  test('lists each device with its name, browser, when it was added and the welcome’s result, never its keys', async () => {
    const started = Date.now();
    const phone = await subscribe(server, '  Chrome on Android ');
    const laptop = await subscribe(server);
    const listed = await devices(server);
    const mine = listed.filter((d) => [phone.endpoint, laptop.endpoint].includes(d.endpoint));
    assert.deepEqual(
      mine.map(({ name, browser, latest }) => ({ name, browser, latest })),
      [
        { name: 'Chrome on Android', browser: push().host, latest: false },
        // No name given: its browser's (here the test push service's host), numbered if taken.
        { name: mine[1]?.name, browser: push().host, latest: true },
      ],
    );
    assert.match(mine[1]?.name ?? '', new RegExp(`^${push().host.replace(/\./g, '\\.')}( \\d+)?$`));
    for (const device of mine) {
      assert.ok(Date.parse(device.addedAt ?? '') >= started - 1000, `addedAt ${device.addedAt}`);
      assert.equal(device.lastResult?.outcome, 'delivered', 'the welcome push');
    }
    const text = JSON.stringify(listed);
    for (const { keys } of [phone, laptop]) {
      assert.ok(!text.includes(keys.auth) && !text.includes(keys.p256dh), 'no key is listed');
    }
  });

  test('a name in use gets " 2"; a name too long or with control characters is refused with 400, nothing stored', async () => {
    await subscribe(server, 'Firefox on Linux');
    const second = await subscribe(server, 'firefox on linux');
    assert.equal(
      (await devices(server)).find((d) => d.endpoint === second.endpoint)?.name,
      'firefox on linux 2',
    );
    const before = await readFile(join(server.dir, 'subscription.json'), 'utf8');
    for (const [name, reason] of [
      ['x'.repeat(61), /longer than 60 characters/],
      ['two\nlines', /control characters/],
      [7, /must be a string/],
    ] as const) {
      const response = await postSubscription(server.httpUrl, { ...push().subscribe(), name });
      assert.equal(response.statusCode, 400);
      assert.match(((await response.body.json()) as { error: string }).error, reason);
    }
    assert.equal(await readFile(join(server.dir, 'subscription.json'), 'utf8'), before);
  });

  test('PATCH renames a device and answers it; a taken name is numbered', async () => {
    const a = await subscribe(server, 'Tablet');
    const b = await subscribe(server, 'Old phone');
    const renamed = await call(server, '/api/devices', {
      method: 'PATCH',
      body: { endpoint: b.endpoint, name: ' Kitchen tablet ' },
    });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal((renamed.json as Device).name, 'Kitchen tablet');
    assert.equal((renamed.json as Device).endpoint, b.endpoint);
    const taken = await call(server, '/api/devices', {
      method: 'PATCH',
      body: { endpoint: b.endpoint, name: 'tablet' },
    });
    assert.equal((taken.json as Device).name, 'tablet 2');
    const listed = await devices(server);
    assert.equal(listed.find((d) => d.endpoint === a.endpoint)?.name, 'Tablet');
    const stored = JSON.parse(await readFile(join(server.dir, 'subscription.json'), 'utf8'));
    assert.equal(
      stored.find((s: { endpoint: string }) => s.endpoint === b.endpoint).name,
      'tablet 2',
    );
  });

  test('PATCH answers 400 to a bad name or body, 404 to an unknown endpoint, and other methods 405', async () => {
    const { endpoint } = await subscribe(server, 'Desk');
    const cases: [unknown, number, RegExp][] = [
      [{ endpoint, name: '' }, 400, /must not be empty/],
      [{ endpoint, name: 'a\u0000b' }, 400, /control characters/],
      [{ endpoint, name: 'y'.repeat(61) }, 400, /longer than 60/],
      [{ endpoint, name: 'all' }, 400, /--to all/],
      [{ endpoint }, 400, /"endpoint".*"name"/],
      [{ name: 'Desk 2' }, 400, /"endpoint".*"name"/],
      [[endpoint, 'x'], 400, /"endpoint".*"name"/],
      [{ endpoint: `${endpoint}x`, name: 'Nobody' }, 404, /no device has this endpoint/],
    ];
    for (const [body, status, error] of cases) {
      const answer = await call(server, '/api/devices', { method: 'PATCH', body });
      assert.equal(answer.status, status, `${JSON.stringify(body)}: ${answer.text}`);
      assert.match((answer.json as { error: string }).error, error);
    }
    assert.equal((await devices(server)).find((d) => d.endpoint === endpoint)?.name, 'Desk');
    const put = await call(server, '/api/devices', {
      method: 'PUT',
      body: { endpoint, name: 'x' },
    });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, HEAD, PATCH');
  });
});

describe('the results of every send', () => {
  let server: ServerProcess;
  before(async () => {
    server = await start({ env: { SEND_TOKEN: TOKEN } });
  });
  const resultOf = async (endpoint: string) =>
    (await devices(server)).find((d) => d.endpoint === endpoint)?.lastResult;

  test('a test that the push service refuses shows as failed with its status and reason; then delivered', async () => {
    const { endpoint } = await subscribe(server, 'Watch');
    push().behave(endpoint, { status: 403, body: 'BadJwtToken' }, 1);
    const refused = await call(server, '/api/subscriptions/test', {
      method: 'POST',
      body: { endpoint },
    });
    assert.equal(refused.status, 200, refused.text);
    assert.deepEqual(
      { ...(await resultOf(endpoint)), at: undefined },
      { at: undefined, outcome: 'failed', status: 403, reason: 'BadJwtToken' },
    );
    const before = Date.parse((await resultOf(endpoint))?.at ?? '');
    await call(server, '/api/subscriptions/test', { method: 'POST', body: { endpoint } });
    const after = await resultOf(endpoint);
    assert.equal(after?.outcome, 'delivered');
    assert.ok(Date.parse(after?.at ?? '') >= before);
  });

  test('a device the push service says is gone leaves the list', async () => {
    const { endpoint } = await subscribe(server, 'Gone soon');
    push().behave(endpoint, { status: 410 });
    await call(server, '/api/subscriptions/test', { method: 'POST', body: { endpoint } });
    assert.equal(
      (await devices(server)).some((d) => d.endpoint === endpoint),
      false,
    );
  });

  test('the page’s send form needs no token, and "to" a name (any case, or a prefix) reaches that device alone', async () => {
    const one = await subscribe(server, 'Living room');
    const two = await subscribe(server, 'Bedroom');
    const mark = push().received.length;
    const sent = await call(server, '/api/send', {
      method: 'POST',
      // What Chromium sends for the page's own fetch; no page of another site can.
      headers: { 'sec-fetch-site': 'same-origin' },
      body: { title: 'Dinner', body: 'is ready', url: '/', to: 'living' },
    });
    assert.equal(sent.status, 200, sent.text);
    assert.deepEqual(sent.json, { delivered: 1, removed: 0, failed: [] });
    await requests(mark + 1);
    const reached = push().received.slice(mark);
    assert.deepEqual(
      reached.map((r) => r.endpoint),
      [one.endpoint],
    );
    // Posted without an Origin header: the link is on the server's first origin.
    assert.deepEqual(notificationOf(reached[0]?.payload), {
      title: 'Dinner',
      body: 'is ready',
      navigate: `${server.httpUrl.replace('127.0.0.1', 'localhost')}/`,
    });
    assert.equal((await resultOf(one.endpoint))?.outcome, 'delivered');
    assert.notEqual((await resultOf(two.endpoint))?.at, (await resultOf(one.endpoint))?.at);

    const unknown = await call(server, '/api/send', {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: { body: 'hello', to: 'Garage' },
    });
    assert.equal(unknown.status, 422);
    assert.match(
      (unknown.json as { error: string }).error,
      /^no device is named "Garage": .*"Living room", "Bedroom"/,
    );
  });

  test('without the page’s same-origin header, the send API still asks for the token', async () => {
    const sites: Record<string, string>[] = [
      {},
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of sites) {
      const answer = await call(server, '/api/send', {
        method: 'POST',
        headers,
        body: { body: 'hi' },
      });
      assert.equal(answer.status, 401, `${JSON.stringify(headers)}: ${answer.text}`);
    }
  });

  test('GET /api/devices shows the results npm run send wrote to the file', async () => {
    const { endpoint } = await subscribe(server, 'Printer');
    push().behave(endpoint, { status: 500, body: 'push service broke' }, 1);
    const result = await runScript('send', ['--to', 'printer', 'Paper jam'], {
      cwd: server.dir,
      env: env(),
    });
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(
      { ...(await resultOf(endpoint)), at: undefined },
      { at: undefined, outcome: 'failed', status: 500, reason: 'push service broke' },
    );
  });
});

describe('without a send token', () => {
  test('the page’s send form still sends, while the API stays off (404) for everything else', async () => {
    const server = await start();
    const { endpoint } = await subscribe(server, 'Only one');
    const page = await call(server, '/api/send', {
      method: 'POST',
      headers: { 'sec-fetch-site': 'same-origin' },
      body: { body: 'from the page', to: 'all' },
    });
    assert.equal(page.status, 200, page.text);
    assert.equal((page.json as { delivered: number }).delivered, 1);
    assert.equal(
      (await devices(server)).find((d) => d.endpoint === endpoint)?.lastResult?.outcome,
      'delivered',
    );
    const script = await call(server, '/api/send', {
      method: 'POST',
      body: { body: 'from a script' },
    });
    assert.equal(script.status, 404);
  });
});
