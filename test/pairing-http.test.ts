import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPairing, PAIRING_TTL_MS } from '../src/pairing/tokens.ts';
import { useHarness } from './support/harness.ts';
import { type Lan, lanOrReason } from './support/lan.ts';
import { type LanServer, startLanServer } from './support/lan-server.ts';
import type { MintedSubscription } from './support/push-service.ts';

// The phone's side of pairing, over real HTTPS from a LAN address inside a namespace of our own.
const found = await lanOrReason();
const lan = found.lan as Lan;
after(() => found.lan?.close());

test('a LAN namespace is available for the pairing tests', { skip: found.skip }, () => {
  if (found.missing) assert.fail(found.missing);
});

describe('pairing over HTTP', {
  skip: found.skip || Boolean(found.missing),
  timeout: 60_000,
}, () => {
  const { push, newDir } = useHarness('swps-pairing-');
  let server: LanServer;
  let dir: string;

  before(async () => {
    await lan.expose(Number(new URL(push().origin).port));
    dir = await newDir();
    server = await startLanServer(lan, push(), { dir });
  });
  after(() => server?.stop('SIGKILL'));

  const subscribe = (subscription: unknown, authorization?: string, from?: 'lan' | 'loopback') =>
    server.call('/api/subscriptions', {
      from,
      body: subscription,
      headers: authorization ? { authorization } : {},
    });
  const stored = () => readFile(join(dir, 'subscription.json'), 'utf8').catch(() => '');
  const mint = (now?: () => number) =>
    createPairing({ keyFile: join(dir, 'pairing-key'), ...(now ? { now } : {}) }).mint();
  /** A pairing link made as the server's page makes it. */
  async function pairingToken(): Promise<string> {
    const made = await server.call('/api/pairings', { from: 'loopback' });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    return /#pair=(.+)$/.exec(String(made.json.url))?.[1] as string;
  }

  /** Sends each attempt from the LAN and checks it is refused with 401 and changes nothing. */
  async function refusedWithoutChange(attempts: [string, string | undefined, RegExp][]) {
    for (const [label, authorization, reason] of attempts) {
      const before = { file: await stored(), requests: push().requests };
      const answer = await subscribe(push().subscribe(), authorization);
      assert.equal(answer.status, 401, `${label}: ${JSON.stringify(answer.json)}`);
      assert.equal(answer.headers['www-authenticate'], 'Pairing', label);
      assert.match(String(answer.json.error), reason, label);
      assert.match(String(answer.json.error), /npm run pair/, label);
      assert.equal(
        await stored(),
        before.file,
        `${label}: subscription.json is byte-for-byte the same`,
      );
      assert.equal(push().requests, before.requests, `${label}: nothing was pushed`);
    }
  }

  async function welcomed(subscription: MintedSubscription, answer: { status: number }) {
    assert.equal(answer.status, 201);
    assert.ok(
      push().received.some((r) => r.endpoint === subscription.endpoint),
      'the welcome reached the push service',
    );
    assert.ok((await stored()).includes(subscription.endpoint));
  }

  test('the server’s own browser subscribes without a token', async () => {
    const subscription = push().subscribe();
    await welcomed(subscription, await subscribe(subscription, undefined, 'loopback'));
  });

  test('from a LAN address no token, a wrong, a forged or an expired one is refused and changes nothing', async () => {
    const real = (await mint()).token;
    const forged = (await createPairing({ keyFile: join(dir, 'stranger-key') }).mint()).token;
    const expired = (await mint(() => Date.now() - PAIRING_TTL_MS - 5000)).token;
    await refusedWithoutChange([
      ['no Authorization', undefined, /not paired/],
      ['another scheme', `Bearer ${real}`, /not paired/],
      ['random token', `Pairing ${randomBytes(32).toString('base64url')}`, /not valid/],
      [
        'tampered token',
        `Pairing ${real.slice(0, 10)}${real[10] === 'a' ? 'b' : 'a'}${real.slice(11)}`,
        /not valid/,
      ],
      ['token from another key', `Pairing ${forged}`, /not valid/],
      ['expired token', `Pairing ${expired}`, /expired/],
      [
        'unknown subscription secret',
        `Subscription ${randomBytes(16).toString('base64url')}`,
        /does not know/,
      ],
    ]);
  });

  test('a pairing link stores one device, once; a second device with it is refused', async () => {
    const token = await pairingToken();
    const phone = push().subscribe();
    await welcomed(phone, await subscribe(phone, `Pairing ${token}`));
    await refusedWithoutChange([['reused token', `Pairing ${token}`, /already used/]]);
  });

  test('a failed subscribe does not spend the token', async () => {
    const token = await pairingToken();
    const before = await stored();
    const bad = await subscribe(
      { endpoint: 'https://example.com/x', keys: {} },
      `Pairing ${token}`,
    );
    assert.equal(bad.status, 400);
    assert.equal(await stored(), before);
    const phone = push().subscribe();
    await welcomed(phone, await subscribe(phone, `Pairing ${token}`));
  });

  test('a spent token stays spent when the server restarts within its 10 minutes', async () => {
    const token = await pairingToken();
    const phone = push().subscribe();
    await welcomed(phone, await subscribe(phone, `Pairing ${token}`));
    await server.stop();
    server = await startLanServer(lan, push(), { dir });
    await refusedWithoutChange([
      ['token spent before the restart', `Pairing ${token}`, /already used/],
    ]);
  });

  test('a paired device replaces its subscription with its auth secret; a wrong one is refused', async () => {
    const old = push().subscribe();
    await welcomed(old, await subscribe(old, `Pairing ${await pairingToken()}`));
    const fresh = push().subscribe();
    await welcomed(fresh, await subscribe(fresh, `Subscription ${old.keys.auth}`));
    assert.ok(!(await stored()).includes(old.endpoint), 'the old subscription is replaced');
    // The old secret went with its subscription: it proves nothing any more.
    await refusedWithoutChange([
      ['replaced secret', `Subscription ${old.keys.auth}`, /does not know/],
    ]);
  });

  test('only the server’s own browser can make a pairing link: a LAN address gets 403', async () => {
    for (const [path, method] of [
      ['/api/pairings', 'POST'],
      ['/api/pairing-info', 'GET'],
    ] as const) {
      // Even when it claims to be localhost: the socket's address decides.
      for (const headers of [{}, { host: 'localhost:4443' }] as Record<string, string>[]) {
        const answer = await server.call(path, { method, headers });
        assert.equal(answer.status, 403, `${path} ${JSON.stringify(headers)}`);
        assert.match(String(answer.json.error), /server’s own browser/);
      }
    }
  });

  test('a LAN address calling itself localhost still needs a token', async () => {
    const before = await stored();
    const answer = await server.call('/api/subscriptions', {
      headers: { host: 'localhost:4443' },
      body: push().subscribe(),
    });
    assert.equal(answer.status, 401);
    assert.equal(await stored(), before);
  });

  test('POST /api/pairings from loopback answers 201 with the link, its expiry and a QR code', async () => {
    const made = await server.call('/api/pairings', { from: 'loopback' });
    assert.equal(made.status, 201);
    assert.match(String(made.json.url), /^https:\/\/10\.77\.0\.1:4443\/#pair=[A-Za-z0-9_-]{43}$/);
    const expiresAt = Date.parse(String(made.json.expiresAt));
    assert.equal(new Date(expiresAt).toISOString(), made.json.expiresAt);
    assert.ok(Math.abs(expiresAt - Date.now() - PAIRING_TTL_MS) < 5000);
    assert.match(String(made.json.qr), /^data:image\/svg\+xml;base64,/);
    const info = await server.call('/api/pairing-info', { from: 'loopback', method: 'GET' });
    assert.equal(info.status, 200);
    assert.equal(info.json.lan, true);
    assert.equal(info.json.origin, 'https://10.77.0.1:4443');
  });

  test('a loopback request with another Host (DNS rebinding) is no owner: 403, and 401 to subscribe', async () => {
    // A page at http://rebound.example:<HTTP port> whose name now resolves to 127.0.0.1.
    const headers = { host: `rebound.example:${new URL(server.httpUrl).port}` };
    const made = await server.call('/api/pairings', { from: 'loopback-http', headers });
    assert.equal(made.status, 403);
    const owner = await server.call('/api/pairings', { from: 'loopback-http' });
    assert.equal(owner.status, 201, 'the same port with Host localhost is the owner');
    const before = await stored();
    const answer = await server.call('/api/subscriptions', {
      from: 'loopback-http',
      headers,
      body: push().subscribe(),
    });
    assert.equal(answer.status, 401);
    assert.equal(await stored(), before);
  });

  // Last: it leaves 10.77.0.1 blocked for the rest of the minute.
  test('repeated wrong tokens from one address get 429 with Retry-After, even with a valid one', async () => {
    // A fresh server: a fresh count of failures (the tests above made some).
    await server.stop();
    server = await startLanServer(lan, push(), { dir });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const answer = await subscribe(
        push().subscribe(),
        `Pairing ${randomBytes(32).toString('base64url')}`,
      );
      statuses.push(answer.status);
      if (answer.status === 429) assert.match(String(answer.headers['retry-after']), /^\d+$/);
    }
    assert.deepEqual(statuses, [...Array(10).fill(401), 429]);
    const valid = await subscribe(push().subscribe(), `Pairing ${await pairingToken()}`);
    assert.equal(valid.status, 429);
    const owner = await subscribe(push().subscribe(), undefined, 'loopback');
    assert.equal(owner.status, 201, 'other addresses are not affected');
  });
});
