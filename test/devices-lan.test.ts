import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Device } from '../src/store/devices.ts';
import { useHarness } from './support/harness.ts';
import { type Lan, lanOrReason } from './support/lan.ts';
import { type LanServer, startLanServer } from './support/lan-server.ts';

// The owner's routes seen from another address on the LAN (10.77.0.1, in a namespace of our own):
// only the send token lets a request in; the server's own machine needs none.
const found = await lanOrReason();
const lan = found.lan as Lan;
after(() => found.lan?.close());
const TOKEN = randomBytes(32).toString('base64url');

test('a LAN namespace is available for the devices tests', { skip: found.skip }, () => {
  if (found.missing) assert.fail(found.missing);
});

describe('the devices of a server on the LAN', {
  skip: found.skip || Boolean(found.missing),
  timeout: 60_000,
}, () => {
  const { push, newDir } = useHarness('swps-devices-lan-');
  let server: LanServer;
  let dir: string;
  let endpoint: string;

  before(async () => {
    await lan.expose(Number(new URL(push().origin).port));
    dir = await newDir();
    server = await startLanServer(lan, push(), { dir, env: { SEND_TOKEN: TOKEN } });
    const subscription = push().subscribe();
    endpoint = subscription.endpoint;
    const stored = await server.call('/api/subscriptions', {
      from: 'loopback',
      body: { ...subscription, name: 'Server browser' },
    });
    assert.equal(stored.status, 201, JSON.stringify(stored.json));
  });
  after(() => server?.stop('SIGKILL'));

  const stored = () => readFile(join(dir, 'subscription.json'), 'utf8');
  const list = (from: 'lan' | 'loopback', headers: Record<string, string> = {}) =>
    server.call('/api/devices', { from, method: 'GET', headers });
  const rename = (from: 'lan' | 'loopback', name: string, headers: Record<string, string> = {}) =>
    server.call('/api/devices', { from, method: 'PATCH', headers, body: { endpoint, name } });

  test('a visitor from a LAN address gets 403 from GET and PATCH /api/devices, and nothing changes', async () => {
    const before = await stored();
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: TOKEN },
    ];
    for (const headers of attempts) {
      const listed = await list('lan', headers);
      assert.equal(listed.status, 403, JSON.stringify(listed.json));
      assert.match(String(listed.json.error), /only the server’s owner/);
      assert.equal(JSON.stringify(listed.json).includes(endpoint), false, 'no device is shown');
      const renamed = await rename('lan', 'Stolen', headers);
      assert.equal(renamed.status, 403, JSON.stringify(renamed.json));
      assert.match(String(renamed.json.error), /only the server’s owner/);
    }
    assert.equal(await stored(), before, 'subscription.json is byte-for-byte the same');
  });

  test('with the send token, the owner lists and renames from a LAN address too', async () => {
    const bearer = { authorization: `Bearer ${TOKEN}` };
    const listed = await list('lan', bearer);
    assert.equal(listed.status, 200, JSON.stringify(listed.json));
    const devices = listed.json as unknown as Device[];
    assert.deepEqual(
      devices.map((d) => d.name),
      ['Server browser'],
    );
    const renamed = await rename('lan', 'Renamed from the LAN', bearer);
    assert.equal(renamed.status, 200, JSON.stringify(renamed.json));
    assert.equal(renamed.json.name, 'Renamed from the LAN');
  });

  test('the server’s own machine needs no token', async () => {
    assert.equal((await list('loopback')).status, 200);
    assert.equal((await rename('loopback', 'Server browser')).status, 200);
  });

  test('the page’s send form is the owner’s only: from a LAN address the send API asks for the token', async () => {
    const mark = push().requests;
    const sent = await server.call('/api/send', {
      from: 'lan',
      headers: { 'sec-fetch-site': 'same-origin' },
      body: { body: 'from the LAN' },
    });
    assert.equal(sent.status, 401, JSON.stringify(sent.json));
    assert.equal(push().requests, mark, 'nothing was pushed');
  });

  test('a paired phone that replaces its subscription keeps its name and when it was added', async () => {
    const made = await server.call('/api/pairings', { from: 'loopback' });
    const token = /#pair=(.+)$/.exec(String(made.json.url))?.[1] as string;
    const phone = push().subscribe();
    const paired = await server.call('/api/subscriptions', {
      body: { ...phone, name: 'Anna’s phone' },
      headers: { authorization: `Pairing ${token}` },
    });
    assert.equal(paired.status, 201, JSON.stringify(paired.json));
    const devices = async () => (await list('loopback')).json as unknown as Device[];
    const addedAt = (await devices()).find((d) => d.endpoint === phone.endpoint)?.addedAt;
    assert.ok(addedAt);
    // pushsubscriptionchange: the service worker posts the new subscription without a name.
    const renewed = push().subscribe();
    const replaced = await server.call('/api/subscriptions', {
      body: renewed,
      headers: { authorization: `Subscription ${phone.keys.auth}` },
    });
    assert.equal(replaced.status, 201, JSON.stringify(replaced.json));
    const now = await devices();
    assert.equal(
      now.find((d) => d.endpoint === phone.endpoint),
      undefined,
      'the old one is gone',
    );
    const after = now.find((d) => d.endpoint === renewed.endpoint);
    assert.equal(after?.name, 'Anna’s phone', 'not "Anna’s phone 2"');
    assert.equal(after?.addedAt, addedAt);
  });

  // Last: it uses up the LAN address's allowance of failures, which the tests above share.
  test('wrong tokens from a LAN address count toward the limit (429, even to the right token); no token is just 403', async () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      assert.equal((await list('lan')).status, 403, `attempt ${attempt} without a token`);
    }
    const wrong = { authorization: 'Bearer wrong' };
    let answer = await list('lan', wrong);
    // The tests above spent a few of the 10; within 10 more the limit is reached.
    for (let attempt = 1; attempt < 10 && answer.status === 403; attempt++) {
      answer = await list('lan', wrong);
    }
    assert.equal(answer.status, 429, JSON.stringify(answer.json));
    assert.ok(Number(answer.headers['retry-after']) >= 1, 'Retry-After');
    const right = await list('lan', { authorization: `Bearer ${TOKEN}` });
    assert.equal(right.status, 429, JSON.stringify(right.json));
  });
});
