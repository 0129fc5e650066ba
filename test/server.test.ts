import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { Agent, request } from 'undici';
import { notificationOf } from './support/declarative.ts';
import { postSubscription, useHarness } from './support/harness.ts';
import { runServer, type ServerProcess } from './support/processes.ts';
import type { MintedSubscription } from './support/push-service.ts';

const { push, env, newDir, start, track } = useHarness('swps-server-');
let dir: string;

before(async () => {
  dir = await newDir();
});

/** An agent that trusts the server's local CA, and nothing else. */
async function trustingAgent(where = dir): Promise<Agent> {
  const ca = await readFile(join(where, 'certs/ca.pem'), 'utf8');
  return track(new Agent({ connect: { ca } }));
}

/** POSTs to /api/subscriptions on `base`: the status and the JSON answer. */
async function post(
  base: string,
  body: unknown,
  dispatcher?: Agent,
): Promise<{ status: number; json: unknown }> {
  const response = await postSubscription(base, body, dispatcher);
  const text = await response.body.text();
  return { status: response.statusCode, json: text ? JSON.parse(text) : undefined };
}

async function vapidFile(where = dir): Promise<{ publicKey: string; subject: string }> {
  return JSON.parse(await readFile(join(where, 'vapid.json'), 'utf8'));
}

const mode = async (file: string) => (await stat(file)).mode & 0o777;
const noStack = (output: string) => assert.doesNotMatch(output, /\n\s+at /);

/** Posts a fresh subscription and checks the decrypted welcome that the push service received. */
async function subscribeAndWelcome(url: string, dispatcher?: Agent): Promise<MintedSubscription> {
  const subscription = push().subscribe();
  const response = await post(url, subscription, dispatcher);
  assert.equal(response.status, 201);
  assert.deepEqual(response.json, {
    subscription: 'created',
    welcome: { delivered: true, removed: false },
  });
  // A 201 with delivered: true means the push service has already accepted the welcome.
  const welcome = push().received.find((message) => message.endpoint === subscription.endpoint);
  assert.ok(welcome, 'the welcome reached this subscription');
  assert.equal(notificationOf(welcome.payload).title, 'Notifications are on');
  const keys = await vapidFile();
  assert.equal(welcome.vapidPublicKey, keys.publicKey);
  assert.match(welcome.claims.sub, /^mailto:/);
  assert.equal(welcome.claims.aud, push().origin);
  return subscription;
}

// These tests run in order on one directory: first start, subscriptions, restart, shutdown.
let server: ServerProcess;

test('creates the CA, the certificate and VAPID keys on first start and prints both URLs', async () => {
  server = await start({ dir });
  assert.equal(await mode(join(dir, 'certs/key.pem')), 0o600);
  assert.equal(await mode(join(dir, 'certs/ca-key.pem')), 0o600);
  assert.match(await readFile(join(dir, 'certs/cert.pem'), 'utf8'), /BEGIN CERTIFICATE/);
  assert.equal(await mode(join(dir, 'vapid.json')), 0o600);
  const output = server.output();
  assert.match(output, /Created VAPID keys in .*vapid\.json/);
  assert.match(output, /Made a local certificate authority: .*certs\/ca\.pem \(SHA-256 /);
  assert.match(output, /Made .*certs\/cert\.pem for localhost, /);
  assert.match(output, /Open http:\/\/localhost:\d+ /);
  assert.match(output, /Open https:\/\/127\.0\.0\.1:\d+ /);
});

test('welcomes a subscription posted over plain HTTP with a decrypted, signed push', async () => {
  await subscribeAndWelcome(server.httpUrl);
});

test('welcomes a subscription posted over HTTPS to a client trusting certs/ca.pem', async () => {
  await subscribeAndWelcome(server.httpsUrl, await trustingAgent());
});

test('keeps subscriptions and keys across a restart', async () => {
  assert.equal(await server.stop(), 0);
  const before = await vapidFile();
  const stored = JSON.parse(await readFile(join(dir, 'subscription.json'), 'utf8'));
  assert.equal(stored.length, 2);
  server = await start({ dir });
  assert.match(server.output(), /2 subscription\(s\)/);
  assert.doesNotMatch(server.output(), /Created|Made|Re-issued/);
  const response = await request(`${server.httpUrl}/api/vapid-public-key`);
  assert.deepEqual(await response.body.json(), { publicKey: before.publicKey });
  assert.deepEqual(await vapidFile(), before);
  // Posting a stored subscription again updates it instead of adding a second one.
  const again = await post(server.httpUrl, stored[0]);
  assert.equal(again.status, 200);
  assert.equal(JSON.parse(await readFile(join(dir, 'subscription.json'), 'utf8')).length, 2);
});

test('answers 404 to /vapid.json, /subscription.json, /certs/key.pem and /certs/ca-key.pem', async () => {
  for (const path of ['/vapid.json', '/subscription.json', '/certs/key.pem', '/certs/ca-key.pem']) {
    const response = await request(`${server.httpUrl}${path}`);
    const body = await response.body.text();
    assert.equal(response.statusCode, 404, path);
    assert.doesNotMatch(body, /privateKey|PRIVATE KEY|p256dh/, path);
  }
});

test('exits 0 within a few seconds of SIGTERM', async () => {
  const started = Date.now();
  assert.equal(await server.stop('SIGTERM'), 0);
  assert.ok(Date.now() - started < 4000, `exited after ${Date.now() - started} ms`);
  assert.match(server.output(), /SIGTERM: finishing requests in flight/);
});

test('on SIGTERM with a welcome push stalled in flight, cuts it at the 5 s deadline and exits 0', async () => {
  const busy = await start();
  const subscription = push().subscribe();
  push().behave(subscription.endpoint, { stall: true });
  const requests = push().requests;
  const answer = post(busy.httpUrl, subscription).then(
    (response) => response.status,
    (error: unknown) => (error as Error).message,
  );
  const deadline = Date.now() + 5000;
  while (push().requests === requests) {
    assert.ok(Date.now() < deadline, 'the welcome push never reached the push service');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const started = Date.now();
  const code = await busy.stop('SIGTERM');
  const elapsed = Date.now() - started;
  const outcome = await answer;
  assert.equal(code, 0);
  // The server waits for the request in flight until its 5 s deadline, then closes the
  // connection: the client sees it closed without a response.
  assert.ok(elapsed >= 4500 && elapsed < 9000, `exited after ${elapsed} ms`);
  assert.match(String(outcome), /other side closed|socket|reset/i);
  push().behave(subscription.endpoint, null);
});

test('refuses to start with a corrupt subscription.json and leaves it unchanged', async () => {
  const where = await newDir();
  const corrupt = '[{"endpoint": "https://fcm.googleapis.com/x",';
  await writeFile(join(where, 'subscription.json'), corrupt);
  const result = await runServer({ dir: where, env: env() });
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /^error: .*subscription\.json is not valid JSON.*\n$/);
  noStack(result.stdout + result.stderr);
  assert.equal(await readFile(join(where, 'subscription.json'), 'utf8'), corrupt);
});

test('refuses to start with a corrupt vapid.json and leaves it unchanged', async () => {
  const cases = [
    ['{"publicKey": "abc", ', /vapid\.json is not valid JSON/],
    ['{"publicKey": "abc"}', /vapid\.json must hold "publicKey" and "privateKey" strings/],
  ] as const;
  for (const [corrupt, message] of cases) {
    const where = await newDir();
    await writeFile(join(where, 'vapid.json'), corrupt, { mode: 0o600 });
    const result = await runServer({ dir: where, env: env() });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /^error: [^\n]+\n$/);
    assert.match(result.stderr, message);
    noStack(result.stdout + result.stderr);
    assert.equal(await readFile(join(where, 'vapid.json'), 'utf8'), corrupt);
  }
});

test('says in one line that the port is in use, and exits non-zero', async () => {
  const blocker = createServer().listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const { port } = blocker.address() as { port: number };
  try {
    const where = await newDir();
    const envs: Record<string, string>[] = [{ PORT: String(port) }, { HTTP_PORT: String(port) }];
    for (const extra of envs) {
      const result = await runServer({ dir: where, env: env(extra) });
      assert.notEqual(result.code, 0, JSON.stringify(extra));
      assert.match(result.stderr, new RegExp(`^error: port ${port} is already in use\\n$`));
      noStack(result.stdout + result.stderr);
    }
  } finally {
    blocker.close();
  }
});
