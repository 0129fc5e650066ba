import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createRateLimiter } from '../src/http/rate-limit.ts';
import { createStatic } from '../src/http/static.ts';
import { generateKeys } from '../src/keys.ts';
import { createPusher } from '../src/push/pusher.ts';
import { openStore } from '../src/store/file.ts';
import type { SubscriptionStore } from '../src/store/store.ts';
import { parseSubscription, type Subscription } from '../src/store/subscription.ts';
import { checkDeclarative } from './support/declarative.ts';
import { ROOT, tempDir } from './support/processes.ts';
import {
  type MintedSubscription,
  type PushService,
  startPushService,
} from './support/push-service.ts';

interface RunningApp {
  url: string;
  file: string;
  store: SubscriptionStore;
  logs: string[];
  close(): Promise<void>;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const vapid = generateKeys('mailto:test@example.com');
// The server's own origins as pairing/link.ts lists them: the first, then a LAN one.
const FIRST = 'http://localhost:8080';
const LAN = 'https://10.77.0.1:4443';
const minted: MintedSubscription[] = [];
let push: PushService;
let dispatcher: Agent;
let app: RunningApp;
let limited: RunningApp;

/** Mounts createApp on plain node:http with a real store, real static files and a real pusher. */
async function startApp(rateLimit: number): Promise<RunningApp> {
  const dir = await tempDir('app-test-');
  const file = join(dir, 'subscription.json');
  const store = await openStore(file);
  const allowlist = loadConfig({ PUSH_ALLOWED_HOSTS: push.host }).pushAllowedHosts;
  const pusher = createPusher({ vapid, allowlist, dispatcher, timeoutMs: 5_000 });
  const logs: string[] = [];
  const listener = createApp({
    store,
    pusher,
    files: await createStatic(join(ROOT, 'public')),
    publicKey: vapid.publicKey,
    allowlist,
    limiter: createRateLimiter(rateLimit),
    log: (line) => logs.push(line),
    origins: () => [FIRST, 'http://127.0.0.1:8080', LAN],
  });
  const server = createServer((req, res) => void listener(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    file,
    store,
    logs,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
      await store.flush();
      await pusher.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

before(async () => {
  push = await startPushService();
  dispatcher = new Agent({ connect: { ca: push.ca } });
  app = await startApp(0);
  limited = await startApp(2);
});

after(async () => {
  await app?.close();
  await limited?.close();
  await dispatcher?.close();
  await push?.close();
});

/** A subscription the test push service will accept, remembered for the log check. */
function mint(): MintedSubscription {
  const subscription = push.subscribe();
  minted.push(subscription);
  return subscription;
}

/** Sends a raw request: the path is sent exactly as given, never normalised. */
function raw(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
  base = app.url,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers };
    if (options.body !== undefined && !headers['transfer-encoding']) {
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const req = request(`${base}${path}`, { method: options.method ?? 'GET', headers });
    req.path = path;
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.end(options.body);
  });
}

/** Sends `body` as JSON to the API. */
function json(method: string, path: string, body: unknown, base = app.url): Promise<Answer> {
  const text = JSON.stringify(body);
  return raw(path, { method, headers: { 'content-type': 'application/json' }, body: text }, base);
}

const subscribe = (subscription: unknown, base = app.url) =>
  json('POST', '/api/subscriptions', subscription, base);

const storedEndpoints = async (file = app.file): Promise<string[]> =>
  (JSON.parse(await readFile(file, 'utf8')) as Subscription[]).map((s) => s.endpoint);

const receivedBy = (endpoint: string) => push.received.filter((r) => r.endpoint === endpoint);

function assertJsonError(answer: Answer, status: number): void {
  assert.equal(answer.status, status, answer.body);
  assert.match(String(answer.headers['content-type']), /^application\/json/);
  const body = JSON.parse(answer.body) as unknown;
  assert.deepEqual(Object.keys(body as object), ['error']);
  assert.equal(typeof (body as { error: unknown }).error, 'string');
  assert.ok((body as { error: string }).error.length > 0);
}

function assertSecurityHeaders(answer: Answer): void {
  const csp = String(answer.headers['content-security-policy']);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(answer.headers['x-content-type-options'], 'nosniff');
  assert.equal(answer.headers['referrer-policy'], 'no-referrer');
}

test('GET /api/vapid-public-key answers the 65-byte uncompressed public key', async () => {
  const answer = await raw('/api/vapid-public-key');
  assert.equal(answer.status, 200);
  const { publicKey } = JSON.parse(answer.body) as { publicKey: string };
  assert.equal(publicKey, vapid.publicKey);
  assert.match(publicKey, /^[A-Za-z0-9_-]+$/);
  const point = Buffer.from(publicKey, 'base64url');
  assert.equal(point.length, 65);
  assert.equal(point[0], 0x04);
});

test('a new subscription is stored, answered 201, and its welcome arrives decrypted', async () => {
  const subscription = mint();
  const answer = await raw('/api/subscriptions', {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(subscription),
  });
  assert.equal(answer.status, 201, answer.body);
  assert.deepEqual(JSON.parse(answer.body), {
    subscription: 'created',
    welcome: { delivered: true, removed: false },
  });
  assert.ok((await storedEndpoints()).includes(subscription.endpoint));

  const [welcome] = receivedBy(subscription.endpoint);
  assert.ok(welcome, 'the push service received the welcome');
  assert.equal(welcome.vapidPublicKey, vapid.publicKey);
  assert.equal(welcome.claims.aud, push.origin);
  const { problems, notification } = checkDeclarative(welcome.payload, { origin: FIRST });
  assert.deepEqual(problems, []);
  assert.equal(notification?.title, 'Notifications are on');
  assert.equal(notification?.tag, 'welcome');
});

/** Subscribes with the given Origin header (none when undefined). */
function subscribeFrom(origin: string | undefined, subscription: unknown): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (origin) headers.origin = origin;
  return raw('/api/subscriptions', { method: 'POST', headers, body: JSON.stringify(subscription) });
}

const storedOrigin = async (endpoint: string) =>
  (JSON.parse(await readFile(app.file, 'utf8')) as Subscription[]).find(
    (s) => s.endpoint === endpoint,
  )?.origin;

test('a subscription from a LAN origin of the server is stored with it and gets LAN links', async () => {
  const subscription = mint();
  assert.equal((await subscribeFrom(LAN, subscription)).status, 201);
  assert.equal(await storedOrigin(subscription.endpoint), LAN);
  const [welcome] = receivedBy(subscription.endpoint);
  const { problems, notification } = checkDeclarative(welcome?.payload ?? '', { origin: LAN });
  assert.deepEqual(problems, []);
  assert.equal(notification?.navigate, `${LAN}/`);
});

test('a foreign Origin, none, or one claimed in the body, is stored as the first origin', async () => {
  for (const [origin, body] of [
    ['https://evil.example', {}],
    ['https://10.77.0.1:4444', {}],
    [undefined, {}],
    [undefined, { origin: LAN }],
  ] as const) {
    const subscription = mint();
    const answer = await subscribeFrom(origin, { ...subscription, ...body });
    assert.equal(answer.status, 201, answer.body);
    assert.equal(await storedOrigin(subscription.endpoint), FIRST, String(origin));
    const [welcome] = receivedBy(subscription.endpoint);
    assert.equal(
      checkDeclarative(welcome?.payload ?? '', { origin: FIRST }).notification?.navigate,
      `${FIRST}/`,
    );
  }
});

test('an entry stored before origins were recorded gets links on the first origin', async () => {
  const subscription = mint();
  await app.store.add(
    parseSubscription(subscription, loadConfig({ PUSH_ALLOWED_HOSTS: push.host }).pushAllowedHosts),
  );
  assert.equal(await storedOrigin(subscription.endpoint), undefined);
  const answer = await json('POST', '/api/subscriptions/test', { endpoint: subscription.endpoint });
  assert.equal(answer.status, 200, answer.body);
  const [test] = receivedBy(subscription.endpoint);
  const { problems, notification } = checkDeclarative(test?.payload ?? '', { origin: FIRST });
  assert.deepEqual(problems, []);
  assert.equal(notification?.title, 'Test notification');
});

test('the same endpoint again is answered 200 and updated, never duplicated', async () => {
  const subscription = mint();
  assert.equal((await subscribe(subscription)).status, 201);
  const renewed = { ...subscription, expirationTime: Date.now() + 86_400_000 };
  const answer = await subscribe(renewed);
  assert.equal(answer.status, 200, answer.body);
  assert.equal((JSON.parse(answer.body) as { subscription: string }).subscription, 'updated');
  const stored = (await storedEndpoints()).filter((e) => e === subscription.endpoint);
  assert.equal(stored.length, 1);
  assert.equal(
    (await app.store.get(subscription.endpoint))?.expirationTime,
    renewed.expirationTime,
  );
  assert.equal(receivedBy(subscription.endpoint).length, 2);
});

test('50 concurrent subscriptions are all stored and all welcomed', async () => {
  const subscriptions = Array.from({ length: 50 }, mint);
  const answers = await Promise.all(subscriptions.map((s) => subscribe(s)));
  assert.deepEqual(
    answers.map((a) => a.status),
    subscriptions.map(() => 201),
  );
  const stored = new Set(await storedEndpoints());
  for (const s of subscriptions) assert.ok(stored.has(s.endpoint));
  for (const s of subscriptions) assert.equal(receivedBy(s.endpoint).length, 1);
});

const asJson = (value: unknown): string => JSON.stringify(value);
const at = (endpoint: string) => ({ ...mint(), endpoint });
function withKeys(keys: Record<string, string>) {
  const subscription = mint();
  return { ...subscription, keys: { ...subscription.keys, ...keys } };
}
function offCurve(): string {
  const point = createECDH('prime256v1').generateKeys();
  point[64] = (point[64] as number) ^ 1;
  return point.toString('base64url');
}
function postRaw(body: string, contentType = 'application/json') {
  const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
  return { method: 'POST', headers, body };
}

const badBodies: [string, number, () => string, string?][] = [
  ['malformed JSON', 400, () => '{"endpoint": '],
  ['a JSON array', 400, () => '[]'],
  ['JSON null', 400, () => 'null'],
  ['a subscription without keys', 400, () => asJson({ endpoint: mint().endpoint })],
  ['a text/plain body', 415, () => asJson(mint()), 'text/plain'],
  ['a form body', 415, () => 'endpoint=x', 'application/x-www-form-urlencoded'],
  ['a body without a content type', 415, () => asJson(mint()), ''],
  ['an http: endpoint', 422, () => asJson(at(`http://${push.host}/push/x`))],
  ['a host off the allowlist', 422, () => asJson(at('https://push.example.com/x'))],
  ['an IP literal not on the allowlist', 422, () => asJson(at('https://10.0.0.1/.google.com/'))],
  ['the test host on another port', 422, () => asJson(at('https://127.0.0.1:1/push/x'))],
  ['user info in the endpoint', 422, () => asJson(at(`https://user@${push.host}/push/x`))],
  ['a p256dh off the curve', 422, () => asJson(withKeys({ p256dh: offCurve() }))],
  ['a 15-byte auth', 422, () => asJson(withKeys({ auth: randomBytes(15).toString('base64url') }))],
];

for (const [what, status, body, contentType] of badBodies) {
  test(`POST /api/subscriptions answers ${status} to ${what} and changes nothing`, async () => {
    await subscribe(mint());
    const before = await readFile(app.file);
    const received = push.received.length;
    const answer = await raw('/api/subscriptions', postRaw(body(), contentType));
    assertJsonError(answer, status);
    assertSecurityHeaders(answer);
    assert.deepEqual(await readFile(app.file), before);
    assert.equal(push.received.length, received);
  });
}

test('a body over 8 KiB is answered 413, changes nothing, and the server keeps serving', async () => {
  await subscribe(mint());
  const before = await readFile(app.file);
  const big = JSON.stringify({ ...mint(), padding: 'x'.repeat(9 * 1024) });
  assertJsonError(await raw('/api/subscriptions', postRaw(big)), 413);
  // Without a Content-Length the limit is enforced while reading.
  const chunked = await raw('/api/subscriptions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    body: big,
  });
  assertJsonError(chunked, 413);
  assert.deepEqual(await readFile(app.file), before);
  assert.equal((await raw('/api/vapid-public-key')).status, 200);
});

test('a subscription padded to exactly 8 KiB is still accepted', async () => {
  const subscription = { ...mint(), padding: '' };
  subscription.padding = 'x'.repeat(8 * 1024 - asJson(subscription).length);
  const answer = await raw('/api/subscriptions', postRaw(asJson(subscription)));
  assert.equal(answer.status, 201, answer.body);
});

test('DELETE /api/subscriptions removes the endpoint and answers 204 every time', async () => {
  const subscription = mint();
  await subscribe(subscription);
  for (let i = 0; i < 2; i++) {
    const answer = await json('DELETE', '/api/subscriptions', { endpoint: subscription.endpoint });
    assert.equal(answer.status, 204);
    assert.equal(answer.body, '');
    assert.ok(!(await storedEndpoints()).includes(subscription.endpoint));
  }
});

test('DELETE /api/subscriptions without an endpoint answers 400', async () => {
  assertJsonError(await json('DELETE', '/api/subscriptions', { url: 'x' }), 400);
  assertJsonError(await json('DELETE', '/api/subscriptions', null), 400);
});

test('POST /api/subscriptions/test answers 404 for an endpoint that is not stored', async () => {
  const answer = await json('POST', '/api/subscriptions/test', { endpoint: mint().endpoint });
  assertJsonError(answer, 404);
  assert.match(answer.body, /Subscribe/);
});

test('POST /api/subscriptions/test pushes a test notification to a stored subscription', async () => {
  const subscription = mint();
  await subscribe(subscription);
  const answer = await json('POST', '/api/subscriptions/test', { endpoint: subscription.endpoint });
  assert.equal(answer.status, 200, answer.body);
  assert.deepEqual(JSON.parse(answer.body), { delivered: 1, removed: 0, failed: [] });
  const messages = receivedBy(subscription.endpoint).map((r) => JSON.parse(r.payload));
  assert.deepEqual(
    messages.map((m: { notification: { tag: string } }) => m.notification.tag),
    ['welcome', 'test'],
  );
});

test('a welcome answered 410 removes the subscription, and the response says so', async () => {
  const subscription = mint();
  push.behave(subscription.endpoint, { status: 410 });
  const answer = await subscribe(subscription);
  assert.equal(answer.status, 201, answer.body);
  assert.deepEqual(JSON.parse(answer.body), {
    subscription: 'created',
    welcome: { delivered: false, removed: true },
  });
  assert.ok(!(await storedEndpoints()).includes(subscription.endpoint));
  assert.equal(await app.store.get(subscription.endpoint), undefined);
  assert.match(app.logs.join('\n'), /gone; removed/);
});

test('a welcome answered 500 keeps the subscription, and the response carries the error', async () => {
  const subscription = mint();
  push.behave(subscription.endpoint, { status: 500 });
  const answer = await subscribe(subscription);
  assert.equal(answer.status, 201, answer.body);
  const { welcome } = JSON.parse(answer.body) as {
    welcome: { delivered: boolean; removed: boolean; error: { host: string; status: number } };
  };
  assert.equal(welcome.delivered, false);
  assert.equal(welcome.removed, false);
  assert.equal(welcome.error.host, push.host);
  assert.equal(welcome.error.status, 500);
  assert.ok((await storedEndpoints()).includes(subscription.endpoint));
  assert.match(app.logs.join('\n'), /welcome push to .* failed: 500/);
});

const notFound: [string, string][] = [
  ['GET', '/nope'],
  ['GET', '/nope.html'],
  ['GET', '/api'],
  ['GET', '/api/'],
  ['GET', '/api/nope'],
  ['POST', '/api/nope'],
  ['DELETE', '/api/vapid-public-key/x'],
];

for (const [method, path] of notFound) {
  test(`${method} ${path} answers 404`, async () => {
    const answer = await raw(path, { method });
    assertJsonError(answer, 404);
    assertSecurityHeaders(answer);
  });
}

const wrongMethods: [string, string, string][] = [
  ['POST', '/api/vapid-public-key', 'GET, HEAD'],
  ['GET', '/api/subscriptions', 'POST, DELETE'],
  ['PUT', '/api/subscriptions', 'POST, DELETE'],
  ['GET', '/api/subscriptions/test', 'POST'],
  ['POST', '/', 'GET, HEAD'],
  ['DELETE', '/sw.js', 'GET, HEAD'],
];

for (const [method, path, allow] of wrongMethods) {
  test(`${method} ${path} answers 405 with Allow: ${allow}`, async () => {
    const answer = await raw(path, { method });
    assertJsonError(answer, 405);
    assert.equal(answer.headers.allow, allow);
    assertSecurityHeaders(answer);
  });
}

test('GET / serves the page as HTML', async () => {
  const answer = await raw('/');
  assert.equal(answer.status, 200);
  assert.match(String(answer.headers['content-type']), /^text\/html/);
  assert.match(answer.body, /<!doctype html>/i);
  assert.equal(answer.body, await readFile(join(ROOT, 'public/index.html'), 'utf8'));
});

test('GET /sw.js serves JavaScript that is revalidated every time', async () => {
  const answer = await raw('/sw.js');
  assert.equal(answer.status, 200);
  assert.match(String(answer.headers['content-type']), /^text\/javascript/);
  assert.equal(answer.headers['cache-control'], 'no-cache');
  assert.equal(answer.body, await readFile(join(ROOT, 'public/sw.js'), 'utf8'));
});

test('HEAD / answers the headers without a body', async () => {
  const answer = await raw('/', { method: 'HEAD' });
  assert.equal(answer.status, 200);
  assert.match(String(answer.headers['content-type']), /^text\/html/);
  assert.equal(answer.body, '');
});

const escapes = [
  '/../vapid.json',
  '/%2e%2e/vapid.json',
  '/..%2fvapid.json',
  '/%2e%2e%2fpackage.json',
  '/..%2f..%2fetc%2fpasswd',
  '//etc/passwd',
  '/public/../vapid.json',
  '/public/index.html',
  '/certs/key.pem',
  '/subscription.json',
  '/vapid.json',
  '/package.json',
  '/.gitignore',
  '/index.html%00',
  '/index.html%00.js',
  '/..\\vapid.json',
  '/%5c..%5cvapid.json',
  '/..%5cpackage.json',
  '/sw.js/',
  '/sw.js/..%2f..%2fpackage.json',
];

for (const path of escapes) {
  test(`static serving refuses ${path} with 404`, async () => {
    const answer = await raw(path);
    assertJsonError(answer, 404);
    assertSecurityHeaders(answer);
  });
}

test('every kind of response carries the security headers', async () => {
  const answers = await Promise.all([
    raw('/'),
    raw('/sw.js'),
    raw('/api/vapid-public-key'),
    subscribe(mint()),
    json('DELETE', '/api/subscriptions', { endpoint: 'https://x.example/' }),
    raw('/api/subscriptions', postRaw('{')),
    raw('/api/subscriptions', postRaw('{}', 'text/plain')),
  ]);
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200, 201, 204, 400, 415],
  );
  for (const answer of answers) assertSecurityHeaders(answer);
});

test('the subscription API answers 429 with Retry-After once a client is over the limit', async () => {
  const remove = () =>
    json('DELETE', '/api/subscriptions', { endpoint: 'https://x.example/' }, limited.url);
  assert.equal((await remove()).status, 204);
  assert.equal((await remove()).status, 204);
  const answer = await remove();
  assertJsonError(answer, 429);
  assertSecurityHeaders(answer);
  const wait = Number(answer.headers['retry-after']);
  assert.ok(Number.isInteger(wait) && wait > 0 && wait <= 60, `Retry-After: ${wait}`);
  assertJsonError(await subscribe(mint(), limited.url), 429);
  const test = await json('POST', '/api/subscriptions/test', { endpoint: 'x' }, limited.url);
  assertJsonError(test, 429);
  // The page and the public key are not rate limited.
  assert.equal((await raw('/', {}, limited.url)).status, 200);
  assert.equal((await raw('/api/vapid-public-key', {}, limited.url)).status, 200);
});

test('the log never contains a subscription secret or its full endpoint', async () => {
  await app.store.flush();
  const log = [...app.logs, ...limited.logs].join('\n');
  assert.ok(app.logs.length > 0);
  for (const { endpoint, keys } of minted) {
    assert.ok(!log.includes(keys.auth), 'auth secret logged');
    assert.ok(!log.includes(keys.p256dh), 'p256dh logged');
    assert.ok(!log.includes(endpoint), 'endpoint logged');
  }
});
