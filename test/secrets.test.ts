// Secrets stay secret: file modes, the start-up warning, nothing secret in any output or
// response, and security headers on every response.
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { useHarness } from './support/harness.ts';
import { type Lan, lanOrReason } from './support/lan.ts';
import { type Answer, startLanServer } from './support/lan-server.ts';
import { type CliResult, runScript, type ServerProcess } from './support/processes.ts';
import type { MintedSubscription } from './support/push-service.ts';

interface Recorded {
  what: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const TOKEN = 'send-token-that-must-never-be-printed-0123456789';
const SERVER_ENV = { SEND_TOKEN: TOKEN, SUBSCRIPTION_FILE: 'data/subscription.json' };
const { push, env, newDir, start, track } = useHarness('swps-secrets-');
let dir: string;
let agent: Agent;
let server: ServerProcess;
const outputs: string[] = [];
const responses: Recorded[] = [];
const minted: MintedSubscription[] = [];
const secretFiles = ['vapid.json', 'certs/key.pem', 'certs/ca-key.pem', 'data/subscription.json'];
// Pairing needs a LAN address: a server inside a network namespace of the test's own.
const lanFound = await lanOrReason();
after(() => lanFound.lan?.close());

before(async () => {
  dir = await newDir();
  await mkdir(join(dir, 'data'));
  server = await start({ dir, env: SERVER_ENV });
  agent = track(new Agent({ connect: { ca: await readFile(join(dir, 'certs/ca.pem'), 'utf8') } }));
});

/** Sends a request to the running server and records the answer for the checks below. */
async function call(
  what: string,
  options: {
    method?: string;
    path: string;
    body?: string;
    type?: string;
    https?: boolean;
    auth?: string;
  },
): Promise<Recorded> {
  const base = options.https ? server.httpsUrl : server.httpUrl;
  const headers: Record<string, string> = {};
  if (options.type) headers['content-type'] = options.type;
  if (options.auth) headers.authorization = options.auth;
  const response = await request(`${base}${options.path}`, {
    method: (options.method ?? 'GET') as 'GET',
    headers,
    body: options.body,
    dispatcher: agent,
  });
  const recorded = {
    what,
    status: response.statusCode,
    headers: response.headers,
    body: await response.body.text(),
  };
  responses.push(recorded);
  return recorded;
}

const json = 'application/json';

async function subscribe(subscription: object): Promise<Recorded> {
  return call('subscribe', {
    method: 'POST',
    path: '/api/subscriptions',
    body: JSON.stringify(subscription),
    type: json,
  });
}

async function send(args: string[]): Promise<CliResult> {
  const result = await runScript('send', args, { cwd: dir, env: env(SERVER_ENV) });
  outputs.push(result.stdout, result.stderr);
  return result;
}

const mode = async (file: string) => (await stat(join(dir, file))).mode & 0o777;

test('writes vapid.json, certs/key.pem, certs/ca-key.pem, send-token and subscription.json with mode 0600', async () => {
  const subscription = push().subscribe();
  minted.push(subscription);
  assert.equal((await subscribe(subscription)).status, 201);
  // npm run token prints the token it makes (that is its job): not searched below.
  assert.equal((await runScript('token', [], { cwd: dir, env: env(SERVER_ENV) })).code, 0);
  for (const file of [...secretFiles, 'send-token']) assert.equal(await mode(file), 0o600, file);
});

test('warns at start-up, in one line each, when vapid.json, certs/key.pem or certs/ca-key.pem is 0644', async () => {
  assert.equal(await server.stop('SIGTERM'), 0);
  outputs.push(server.output());
  const keyFiles = ['vapid.json', 'certs/key.pem', 'certs/ca-key.pem'];
  for (const file of keyFiles) await chmod(join(dir, file), 0o644);
  server = await start({ dir, env: SERVER_ENV });
  for (const file of keyFiles) {
    const path = join(dir, file).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    assert.match(
      server.output(),
      new RegExp(
        `^warning: ${path} is readable by others \\(mode 644\\); run: chmod 600 ${path}$`,
        'm',
      ),
    );
  }
  for (const file of keyFiles) await chmod(join(dir, file), 0o600);
});

test('a whole session (subscribe, welcome, send, a 500, a 410, bad requests, shutdown) prints and answers no secret', async () => {
  for (const https of [false, true]) {
    for (const path of ['/', '/app.js', '/sw.js', '/api/vapid-public-key', '/ca.crt']) {
      assert.equal((await call(`GET ${path}`, { path, https })).status, 200);
    }
  }
  for (let i = 0; i < 2; i++) minted.push(push().subscribe());
  const [kept, failing, gone] = minted as [
    MintedSubscription,
    MintedSubscription,
    MintedSubscription,
  ];
  for (const subscription of [failing, gone]) {
    assert.equal((await subscribe(subscription)).status, 201);
  }
  assert.equal((await subscribe(kept)).status, 200, 'the same subscription again is an update');

  assert.equal((await send(['Backup finished', '--all'])).code, 0);
  push().behave(failing.endpoint, { status: 500 });
  push().behave(gone.endpoint, { status: 410 });
  const mixed = await send(['--title', 'Disk', 'Disk almost full', '--all']);
  assert.equal(mixed.code, 1);
  assert.match(mixed.stdout, /removed 1/);
  assert.match(mixed.stderr, /failed 1\n.*500/);

  const testPush = JSON.stringify({ endpoint: kept.endpoint });
  const sendPath = '/api/send';
  const cases: [string, Parameters<typeof call>[1], number][] = [
    [
      'test push',
      { method: 'POST', path: '/api/subscriptions/test', body: testPush, type: json },
      200,
    ],
    [
      'send API',
      {
        method: 'POST',
        path: sendPath,
        body: 'hello',
        type: 'text/plain',
        auth: `Bearer ${TOKEN}`,
      },
      200,
    ],
    [
      'send API, wrong token',
      { method: 'POST', path: sendPath, body: 'x', type: 'text/plain', auth: `Bearer ${TOKEN}x` },
      401,
    ],
    [
      'not JSON',
      { method: 'POST', path: '/api/subscriptions', body: '{"endpoint":', type: json },
      400,
    ],
    [
      'not JSON at all',
      { method: 'POST', path: '/api/subscriptions', body: 'x', type: 'text/plain' },
      415,
    ],
    [
      'too large',
      { method: 'POST', path: '/api/subscriptions', body: 'x'.repeat(20_000), type: json },
      413,
    ],
    [
      'auth of 15 bytes',
      {
        method: 'POST',
        path: '/api/subscriptions',
        body: JSON.stringify({
          ...kept,
          keys: { ...kept.keys, auth: kept.keys.auth.slice(0, 20) },
        }),
        type: json,
      },
      422,
    ],
    [
      'endpoint elsewhere',
      {
        method: 'POST',
        path: '/api/subscriptions',
        body: JSON.stringify({ ...kept, endpoint: 'https://evil.example/x' }),
        type: json,
        https: true,
      },
      422,
    ],
    [
      'unsubscribe without endpoint',
      { method: 'DELETE', path: '/api/subscriptions', body: '{}', type: json },
      400,
    ],
    [
      'test push, unknown',
      {
        method: 'POST',
        path: '/api/subscriptions/test',
        body: '{"endpoint":"https://x/y"}',
        type: json,
      },
      404,
    ],
    [
      'wrong method',
      { method: 'PUT', path: '/api/subscriptions', body: testPush, type: json },
      405,
    ],
    ['wrong method on a page', { method: 'POST', path: '/' }, 405],
    ['no such page', { path: '/vapid.json' }, 404],
    ['no such key file', { path: '/certs/key.pem', https: true }, 404],
    ['no such CA key file', { path: '/certs/ca-key.pem', https: true }, 404],
    ['no such API', { path: '/api/nothing' }, 404],
    [
      'unsubscribe',
      { method: 'DELETE', path: '/api/subscriptions', body: testPush, type: json },
      204,
    ],
  ];
  for (const [what, options, status] of cases) {
    const answer = await call(what, options);
    assert.equal(answer.status, status, `${what}: ${answer.body}`);
  }

  // Proof that the search below would find them: the store itself holds the secrets.
  const stored = await readFile(join(dir, 'data/subscription.json'), 'utf8');
  const { auth, p256dh } = failing.keys;
  assert.ok(stored.includes(auth) && stored.includes(p256dh), 'the store holds the keys');

  // A save that fails (the data directory turned into a file) is a 500 that says nothing more.
  await rm(join(dir, 'data'), { recursive: true });
  await writeFile(join(dir, 'data'), 'not a directory');
  const extra = push().subscribe();
  minted.push(extra);
  const failed = await subscribe(extra);
  assert.equal(failed.status, 500);
  assert.deepEqual(JSON.parse(failed.body), { error: 'internal error' });
  assert.match(
    server.output(),
    /internal error: HttpError: could not save .*\n(.*\n)*\s+cause: .*ENOTDIR/,
  );
  await rm(join(dir, 'data'));
  await mkdir(join(dir, 'data'));

  assert.equal(await server.stop('SIGTERM'), 0);
  outputs.push(server.output());

  assertNoneIn([...outputs, ...responses.map(recordedText)], await collectSecrets());
});

test('a pairing session from a LAN address (links made, a wrong, a used and a good token) prints and answers neither the pairing key nor a token', {
  skip: lanFound.skip,
}, async (t) => {
  if (lanFound.missing) assert.fail(lanFound.missing);
  const lan = lanFound.lan as Lan;
  await lan.expose(Number(new URL(push().origin).port));
  const lanDir = await newDir();
  const onLan = await startLanServer(lan, push(), { dir: lanDir });
  t.after(() => onLan.stop('SIGKILL'));
  const searched: string[] = [];
  const lanCall = async (
    what: string,
    path: string,
    options: Parameters<typeof onLan.call>[1],
    status: number,
  ): Promise<Answer> => {
    const answer = await onLan.call(path, options);
    const recorded = {
      what,
      status: answer.status,
      headers: answer.headers,
      body: JSON.stringify(answer.json),
    };
    responses.push(recorded);
    searched.push(recordedText(recorded));
    assert.equal(answer.status, status, `${what}: ${recorded.body}`);
    return answer;
  };

  // The answer that makes a link holds its token: that is its job, so it is not searched.
  const tokens: string[] = [];
  for (let i = 0; i < 2; i++) {
    const made = await onLan.call('/api/pairings', { from: 'loopback' });
    assert.equal(made.status, 201);
    tokens.push(new URL(String(made.json.url)).hash.replace('#pair=', ''));
  }
  const [good, other] = tokens as [string, string];
  const wrong = `${good.slice(0, 10)}${good[10] === 'A' ? 'B' : 'A'}${good.slice(11)}`;
  tokens.push(wrong);
  const pairing = (token: string) => ({ headers: { authorization: `Pairing ${token}` } });
  const first = push().subscribe();
  const second = push().subscribe();
  minted.push(first, second);

  await lanCall('LAN key', '/api/vapid-public-key', { method: 'GET' }, 200);
  await lanCall('LAN pairings', '/api/pairings', {}, 403);
  await lanCall('pairing info', '/api/pairing-info', { method: 'GET', from: 'loopback' }, 200);
  await lanCall('LAN, no token', '/api/subscriptions', { body: first }, 401);
  await lanCall('LAN, wrong token', '/api/subscriptions', { body: first, ...pairing(wrong) }, 401);
  await lanCall('LAN, good token', '/api/subscriptions', { body: first, ...pairing(good) }, 201);
  await lanCall('LAN, used token', '/api/subscriptions', { body: second, ...pairing(good) }, 401);
  await lanCall('LAN, other token', '/api/subscriptions', { body: second, ...pairing(other) }, 201);
  assert.equal(await onLan.stop('SIGTERM'), 0);
  assert.match(onLan.output(), /paired a device at 10\.77\.0\.1/);
  for (const file of ['pairing-key', 'pairing-key.spent']) {
    assert.equal((await stat(join(lanDir, file))).mode & 0o777, 0o600, file);
  }

  const key = (await readFile(join(lanDir, 'pairing-key'), 'utf8')).trim();
  const secrets: [string, string][] = [
    ['the pairing key', key],
    ...tokens.map((token, i): [string, string] => [`pairing token ${i}`, token]),
  ];
  // Every log line and response of this session and the one before.
  assertNoneIn([onLan.output(), ...searched, ...outputs, ...responses.map(recordedText)], secrets);
});

const recordedText = (r: Recorded) => `${JSON.stringify(r.headers)}\n${r.body}`;

/** Fails when any form of any secret appears in `texts`. */
function assertNoneIn(texts: string[], secrets: [string, string][]): void {
  const everything = texts.join('\n');
  assert.ok(everything.length > 5000, 'there was plenty to search');
  for (const [name, value] of secrets) {
    for (const form of encodings(value)) {
      assert.ok(!everything.includes(form), `${name} appears in an output or response`);
    }
  }
}

/** Every secret of the session, by name. */
async function collectSecrets(): Promise<[string, string][]> {
  const vapid = JSON.parse(await readFile(join(dir, 'vapid.json'), 'utf8'));
  const pemKey = async (file: string) =>
    (await readFile(join(dir, file), 'utf8')).split('\n')[1] ?? '';
  return [
    ['the VAPID private key', vapid.privateKey],
    ['the TLS private key', await pemKey('certs/key.pem')],
    ['the CA private key', await pemKey('certs/ca-key.pem')],
    ['the send token', TOKEN],
    ['the token in send-token', (await readFile(join(dir, 'send-token'), 'utf8')).trim()],
    ...minted.flatMap((s, i): [string, string][] => [
      [`subscription ${i}'s auth secret`, s.keys.auth],
      [`subscription ${i}'s p256dh`, s.keys.p256dh],
      [`subscription ${i}'s endpoint path`, new URL(s.endpoint).pathname.split('/').pop() ?? ''],
    ]),
  ];
}

/** The ways a base64url secret could be printed: as is, as standard base64, as hex. */
function encodings(secret: string): string[] {
  assert.ok(secret.length >= 16, 'a secret long enough to search for');
  const bytes = Buffer.from(secret, 'base64url');
  const forms = [secret, bytes.toString('base64').replace(/=+$/, ''), bytes.toString('hex')];
  return forms.filter((form) => form.length >= 16);
}

test('every response carries the security headers and no Server or X-Powered-By header', () => {
  const statuses = new Set(responses.map((r) => r.status));
  for (const status of [200, 201, 204, 400, 401, 404, 405, 413, 415, 422, 500]) {
    assert.ok(statuses.has(status), `a ${status} was checked`);
  }
  for (const { what, status, headers } of responses) {
    const where = `${what} (${status})`;
    const csp = String(headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/, where);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, where);
    assert.equal(headers['x-content-type-options'], 'nosniff', where);
    assert.equal(headers['referrer-policy'], 'no-referrer', where);
    assert.equal(headers.server, undefined, where);
    assert.equal(headers['x-powered-by'], undefined, where);
  }
});
