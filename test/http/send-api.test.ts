import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Agent, type Dispatcher, fetch } from 'undici';
import { createApp } from '../../src/app.ts';
import { createRateLimiter } from '../../src/http/rate-limit.ts';
import { createSendApi } from '../../src/http/send-api.ts';
import { createStatic } from '../../src/http/static.ts';
import { generateKeys } from '../../src/keys.ts';
import { createPusher, type Pusher } from '../../src/push/pusher.ts';
import { openStore } from '../../src/store/file.ts';
import { hostNames } from '../../src/tls/network.ts';
import { checkDeclarative, notificationOf } from '../support/declarative.ts';
import { postSubscription, useHarness } from '../support/harness.ts';
import {
  EVERY_OPTION,
  EVERY_OPTION_FLAGS,
  everyOptionShown,
  FULL_NOTIFICATION,
  SILENCE_LINK,
} from '../support/notification.ts';
import { ROOT, runScript, type ServerProcess } from '../support/processes.ts';
import type { MintedSubscription, Received } from '../support/push-service.ts';

const execFileAsync = promisify(execFile);
const TOKEN = randomBytes(32).toString('base64url');

const { push, env, newDir, start, track, servers } = useHarness('swps-send-api-');
/** Values that must never be echoed: tokens, VAPID private keys, subscription auth secrets. */
const secrets = new Set<string>([TOKEN]);
/** Every response body and send CLI output seen, checked for secrets at the end. */
const echoed: string[] = [];

/** Starts src/server.ts in `dir` against the test push service; notes its VAPID private key. */
async function startServer(
  dir: string,
  extra: Record<string, string> = {},
): Promise<ServerProcess> {
  const server = await start({ dir, env: extra });
  const { privateKey } = JSON.parse(await readFile(join(dir, 'vapid.json'), 'utf8'));
  secrets.add(privateKey);
  return server;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

interface PostOptions {
  authorization?: string;
  /** The Content-Type; empty sends none. */
  type?: string;
  body?: string;
  method?: string;
  dispatcher?: Dispatcher;
}

/** Calls /api/send on `base` (a Buffer body, so fetch adds no Content-Type of its own). */
async function call(base: string, options: PostOptions = {}): Promise<Answer> {
  const { authorization, type = 'text/plain', body = '', method = 'POST', dispatcher } = options;
  const headers: Record<string, string> = {};
  if (type) headers['content-type'] = type;
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(`${base}/api/send`, {
    method,
    headers,
    ...(method === 'GET' ? {} : { body: Buffer.from(body) }),
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await response.text();
  echoed.push(text);
  return { status: response.status, headers: Object.fromEntries(response.headers), text };
}

/** Subscribes a new test-push-service subscription through the server, as the page would. */
async function subscribe(server: ServerProcess): Promise<MintedSubscription> {
  const subscription = push().subscribe();
  secrets.add(subscription.keys.auth);
  const response = await postSubscription(server.httpUrl, subscription);
  const text = await response.body.text();
  assert.equal(response.statusCode, 201, text);
  return subscription;
}

async function storedEndpoints(server: ServerProcess): Promise<string[]> {
  const text = await readFile(join(server.dir, 'subscription.json'), 'utf8');
  return (JSON.parse(text) as { endpoint: string }[]).map((s) => s.endpoint);
}

/** What the push service accepted after `mark` (an earlier `push().received.length`). */
const since = (mark: number): Received[] => push().received.slice(mark);

describe('without a send token', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(await newDir());
  });

  test('answers 404 to POST /api/send, whatever the Authorization header', async () => {
    for (const authorization of [undefined, `Bearer ${TOKEN}`, 'Bearer ']) {
      const answer = await call(server.httpUrl, { authorization, body: 'hello' });
      assert.equal(answer.status, 404);
      assert.deepEqual(JSON.parse(answer.text), { error: 'not found' });
      assert.equal(answer.headers['www-authenticate'], undefined);
    }
  });

  test('says at startup that the API is off and how to turn it on', () => {
    assert.match(server.output(), /Send API off: run npm run token to enable POST \/api\/send/);
  });
});

describe('npm run token', () => {
  let dir: string;
  let token: string;
  before(async () => {
    dir = await newDir();
  });

  test('creates send-token with mode 0600 holding a random 43-character base64url token', async () => {
    const result = await runScript('token', [], { cwd: dir, env: env() });
    assert.equal(result.code, 0, result.stderr);
    token = result.stdout.trim();
    secrets.add(token);
    // 32 random bytes in base64url without padding.
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token, 'base64url').length, 32);
    assert.equal(await readFile(join(dir, 'send-token'), 'utf8'), `${token}\n`);
    assert.equal((await stat(join(dir, 'send-token'))).mode & 0o777, 0o600);
    assert.match(result.stderr, /Created .*send-token \(mode 600\); restart the server/);
  });

  test('refuses to replace an existing token without --force and prints the existing one', async () => {
    const result = await runScript('token', [], { cwd: dir, env: env() });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), token);
    assert.match(result.stderr, /already exists \(use --force to replace it\)/);
    assert.equal(await readFile(join(dir, 'send-token'), 'utf8'), `${token}\n`);
  });

  test('replaces the token with --force', async () => {
    const result = await runScript('token', ['--force'], { cwd: dir, env: env() });
    assert.equal(result.code, 0, result.stderr);
    const replaced = result.stdout.trim();
    secrets.add(replaced);
    assert.match(replaced, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(replaced, token);
    assert.equal(await readFile(join(dir, 'send-token'), 'utf8'), `${replaced}\n`);
    assert.equal((await stat(join(dir, 'send-token'))).mode & 0o777, 0o600);
    assert.match(result.stderr, /Replaced /);
    token = replaced;
  });

  test('enables the API on a server started afterwards, which delivers with that token', async () => {
    const server = await startServer(dir);
    assert.match(server.output(), /Send API on: POST \/api\/send/);
    const subscription = await subscribe(server);
    const mark = push().received.length;
    const answer = await call(server.httpUrl, {
      authorization: `Bearer ${token}`,
      body: 'token from the file',
    });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(JSON.parse(answer.text), { delivered: 1, removed: 0, failed: [] });
    const [message] = since(mark);
    assert.equal(message?.endpoint, subscription.endpoint);
    assert.equal(notificationOf(message?.payload).body, 'token from the file');
  });
});

describe('POST /api/send with SEND_TOKEN set', () => {
  let server: ServerProcess;
  let base: string;
  const bearer = `Bearer ${TOKEN}`;
  const send = (body: string, type = 'text/plain') =>
    call(base, { authorization: bearer, type, body });
  const sendJson = (data: unknown) => send(JSON.stringify(data), 'application/json');

  before(async () => {
    const dir = await newDir();
    // SEND_TOKEN wins over a send-token file.
    const fileToken = randomBytes(32).toString('base64url');
    secrets.add(fileToken);
    await writeFile(join(dir, 'send-token'), `${fileToken}\n`, { mode: 0o600 });
    server = await startServer(dir, { SEND_TOKEN: TOKEN });
    base = server.httpUrl;
  });

  test('says at startup that the API is on, without printing the token', () => {
    assert.match(server.output(), /Send API on: POST \/api\/send/);
    assert.ok(!server.output().includes(TOKEN));
  });

  test('answers 409 when no subscription is stored', async () => {
    const mark = push().requests;
    for (const answer of [await send('hello'), await sendJson({ body: 'hello', to: 'all' })]) {
      assert.equal(answer.status, 409, answer.text);
      assert.match(JSON.parse(answer.text).error, /no subscription is stored yet/);
    }
    assert.equal(push().requests, mark);
  });

  test('delivers a text/plain body with the default title "Simple Web Push"', async () => {
    const subscription = await subscribe(server);
    const mark = push().received.length;
    const answer = await send('Backup finished\n', 'text/plain; charset=utf-8');
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
    assert.deepEqual(JSON.parse(answer.text), { delivered: 1, removed: 0, failed: [] });
    const [message, extra] = since(mark);
    assert.equal(extra, undefined);
    assert.equal(message?.endpoint, subscription.endpoint);
    // Stored without an Origin header: the links point at the server's first origin.
    const origin = server.httpUrl.replace('127.0.0.1', 'localhost');
    assert.deepEqual(JSON.parse(message?.payload ?? ''), {
      web_push: 8030,
      notification: { title: 'Simple Web Push', body: 'Backup finished', navigate: `${origin}/` },
      mutable: true,
    });
    assert.equal(message?.ttl, 86400);
    assert.equal(message?.topic, undefined);
    assert.match(server.output(), /send API: delivered 1, removed 0, failed 0/);
  });

  test('delivers every JSON option as given: payload fields and TTL, Urgency, Topic headers', async () => {
    const mark = push().received.length;
    const answer = await sendJson({
      ...FULL_NOTIFICATION,
      ttl: 600,
      urgency: 'high',
      topic: 'nightly-backup',
      to: 'latest',
    });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(JSON.parse(answer.text), { delivered: 1, removed: 0, failed: [] });
    const [message] = since(mark);
    const origin = server.httpUrl.replace('127.0.0.1', 'localhost');
    const { problems, notification } = checkDeclarative(message?.payload ?? '', {
      origin,
      external: [FULL_NOTIFICATION.url ?? ''],
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(notification, {
      title: FULL_NOTIFICATION.title,
      body: FULL_NOTIFICATION.body,
      navigate: FULL_NOTIFICATION.url,
      tag: FULL_NOTIFICATION.tag,
      icon: `${origin}${FULL_NOTIFICATION.icon}`,
    });
    assert.equal(message?.ttl, 600);
    assert.equal(message?.urgency, 'high');
    assert.equal(message?.topic, 'nightly-backup');
  });

  test('reaches only the latest subscription by default, and every one with to: "all"', async () => {
    const latest = await subscribe(server);
    let mark = push().received.length;
    const one = await sendJson({ body: 'to the latest' });
    assert.deepEqual(JSON.parse(one.text), { delivered: 1, removed: 0, failed: [] });
    assert.deepEqual(
      since(mark).map((m) => m.endpoint),
      [latest.endpoint],
    );

    const stored = await storedEndpoints(server);
    assert.ok(stored.length >= 2);
    mark = push().received.length;
    const all = await sendJson({ body: 'to everyone', to: 'all' });
    assert.deepEqual(JSON.parse(all.text), { delivered: stored.length, removed: 0, failed: [] });
    const reached = since(mark);
    assert.deepEqual(reached.map((m) => m.endpoint).sort(), [...stored].sort());
    for (const message of reached)
      assert.equal(notificationOf(message.payload).body, 'to everyone');
  });

  for (const status of [404, 410]) {
    test(`removes a subscription the push service answers ${status} to, and reports removed: 1`, async () => {
      const gone = await subscribe(server);
      push().behave(gone.endpoint, { status }, 1);
      const answer = await sendJson({ body: 'are you there?' });
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(JSON.parse(answer.text), { delivered: 0, removed: 1, failed: [] });
      assert.ok(!(await storedEndpoints(server)).includes(gone.endpoint));
    });
  }

  test('answers 200 with a push service 500 listed as {host, status, reason}, keeping the subscription', async () => {
    const failing = await subscribe(server);
    push().behave(failing.endpoint, { status: 500 }, 1);
    const answer = await sendJson({ body: 'will fail' });
    assert.equal(answer.status, 200, answer.text);
    const report = JSON.parse(answer.text);
    assert.deepEqual(Object.keys(report), ['delivered', 'removed', 'failed']);
    assert.deepEqual(report, {
      delivered: 0,
      removed: 0,
      failed: [{ host: push().host, status: 500, reason: '{"error":"behaviour 500"}' }],
    });
    assert.equal((await storedEndpoints(server)).at(-1), failing.endpoint);
    assert.match(server.output(), /send API: delivered 0, removed 0, failed 1/);
  });

  test('is what npm run send -- --json prints, byte for byte, for a delivery and a failure', async () => {
    const latest = await subscribe(server);
    const both = async () => {
      const answer = await send('same report');
      const result = await runScript('send', ['--json', 'same report'], {
        cwd: server.dir,
        env: env(),
      });
      echoed.push(result.stdout, result.stderr);
      return { answer, result };
    };
    const delivered = await both();
    push().behave(latest.endpoint, { status: 500 }, 2);
    const failed = await both();
    assert.equal(delivered.result.code, 0, delivered.result.stderr);
    assert.equal(failed.result.code, 1);
    assert.match(failed.answer.text, /"failed":\[\{"host":/);
    for (const { answer, result } of [delivered, failed]) {
      assert.equal(answer.status, 200, answer.text);
      assert.equal(result.stdout, `${answer.text}\n`);
    }
  });

  test('answers 400 to a body that is not valid JSON, not an object, or has no message', async () => {
    const cases: [string, string, RegExp][] = [
      ['application/json', '{"body": ', /not valid JSON/],
      ['application/json', '["hello"]', /must be an object/],
      ['application/json', '"hello"', /must be an object/],
      ['application/json', '{"title": "no body"}', /body\) is missing/],
      ['application/json', '{"body": 42}', /body must be a string/],
      ['text/plain', '  \n', /body\) is missing/],
    ];
    for (const [type, body, error] of cases) {
      const answer = await send(body, type);
      assert.equal(answer.status, 400, `${body}: ${answer.text}`);
      assert.match(JSON.parse(answer.text).error, error);
    }
  });

  test('answers 415 to a body that is neither text/plain nor JSON', async () => {
    for (const type of ['application/x-www-form-urlencoded', '']) {
      const answer = await send('body=hello', type);
      assert.equal(answer.status, 415, answer.text);
      assert.match(JSON.parse(answer.text).error, /text\/plain .* application\/json/);
    }
  });

  test('answers 422 to an option value the CLI would refuse too', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ urgency: 'urgent' }, /^urgency must be one of very-low, low, normal, high$/],
      [{ ttl: -1 }, /^ttl must be whole seconds/],
      [{ ttl: 28 * 24 * 3600 + 1 }, /^ttl must be whole seconds/],
      [{ topic: 'not a topic!' }, /^topic must be base64url characters$/],
      [{ topic: 'a'.repeat(33) }, /^topic is longer than 32 characters$/],
      [{ url: 'javascript:alert(1)' }, /^url must start with/],
      [{ to: 'everyone' }, /^no device is named "everyone": "/],
      [{ to: '' }, /^to must be "latest", "all" or the name of a device$/],
      [{ title: 't'.repeat(201) }, /^title is longer than 200 characters$/],
    ];
    for (const [options, error] of cases) {
      const answer = await sendJson({ body: 'hello', ...options });
      assert.equal(answer.status, 422, `${JSON.stringify(options)}: ${answer.text}`);
      assert.match(JSON.parse(answer.text).error, error);
    }
  });

  test('answers 413 to a body over 8 KiB and to a notification too big for one push', async () => {
    const big = await send('x'.repeat(8 * 1024 + 1));
    assert.equal(big.status, 413, big.text);
    assert.match(JSON.parse(big.text).error, /larger than 8192 bytes/);

    const mark = push().requests;
    const long = await sendJson({
      title: 't'.repeat(200),
      body: 'b'.repeat(2000),
      url: `/${'u'.repeat(1999)}`,
    });
    assert.equal(long.status, 413, long.text);
    assert.match(
      JSON.parse(long.text).error,
      /Web Push allows at most 3993 \(\d+ over\): its largest option is (url|body), \d+ bytes/,
    );
    assert.equal(push().requests, mark);
  });

  test('answers 405 with Allow: POST to other methods', async () => {
    const answer = await call(base, { method: 'GET', authorization: bearer });
    assert.equal(answer.status, 405);
    assert.equal(answer.headers.allow, 'POST');
  });

  test('answers 401 with WWW-Authenticate to a missing, wrong or malformed Authorization', async () => {
    const fileToken = (await readFile(join(server.dir, 'send-token'), 'utf8')).trim();
    const headers = [
      undefined,
      'Bearer wrong',
      `Bearer ${fileToken}`,
      `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`,
      TOKEN,
      'Bearer',
      `Bearer ${TOKEN} extra`,
      `Bearer ${TOKEN.slice(0, -1)}`,
    ];
    for (const authorization of headers) {
      const answer = await call(base, { authorization, body: 'hello' });
      assert.equal(answer.status, 401, `${authorization}: ${answer.text}`);
      assert.equal(answer.headers['www-authenticate'], 'Bearer realm="send"');
      assert.match(JSON.parse(answer.text).error, /Authorization: Bearer <token>/);
    }
  });

  test('accepts the Bearer scheme in any case and followed by more than one space (RFC 6750 §2.1)', async () => {
    for (const authorization of [`bearer ${TOKEN}`, `BEARER  ${TOKEN}`]) {
      const answer = await call(base, { authorization, body: 'spelled differently' });
      assert.equal(answer.status, 200, `${authorization}: ${answer.text}`);
    }
  });

  test('answers 429 with Retry-After after 10 failures from one address, even to the right token', async () => {
    // Another loopback address: its own count, untouched by the 401 tests above.
    const elsewhere = track(new Agent({ localAddress: '127.0.0.3' }));
    const from = (authorization: string) =>
      call(base, { authorization, body: 'hello', dispatcher: elsewhere });
    for (let attempt = 1; attempt <= 10; attempt++) {
      assert.equal((await from('Bearer wrong')).status, 401, `attempt ${attempt}`);
    }
    for (const authorization of ['Bearer wrong', bearer]) {
      const answer = await from(authorization);
      assert.equal(answer.status, 429, answer.text);
      const seconds = Number(answer.headers['retry-after']);
      assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60, `${seconds}`);
      assert.match(JSON.parse(answer.text).error, /too many failed attempts/);
    }
    // 127.0.0.1 has its own count.
    assert.equal((await send('still allowed')).status, 200);
  });

  test('a request without Authorization counts as a failure too: 429 after 10 of them', async () => {
    const elsewhere = track(new Agent({ localAddress: '127.0.0.4' }));
    const from = (authorization?: string) =>
      call(base, { authorization, body: 'hello', dispatcher: elsewhere });
    for (let attempt = 1; attempt <= 10; attempt++) {
      assert.equal((await from()).status, 401, `attempt ${attempt}`);
    }
    assert.equal((await from(bearer)).status, 429);
  });

  test('is reachable over HTTPS by pinning certs/ca.pem with curl --cacert', async () => {
    const args = ['-sS', '-H', `Authorization: Bearer ${TOKEN}`, '-H', 'Content-Type: text/plain'];
    const url = `${server.httpsUrl}/api/send`;
    const pinned = await execFileAsync(
      'curl',
      ['--cacert', 'certs/ca.pem', ...args, '--data-binary', 'over HTTPS', url],
      { cwd: server.dir },
    );
    echoed.push(pinned.stdout);
    assert.deepEqual(JSON.parse(pinned.stdout), { delivered: 1, removed: 0, failed: [] });
    // Without it curl refuses a certificate from a CA it does not know (exit 60).
    await assert.rejects(execFileAsync('curl', [...args, '--data-binary', 'x', url]), {
      code: 60,
    });
  });

  test("is reachable by this machine's host name with curl --resolve, which the certificate covers", async (t) => {
    const name = hostNames(hostname())[0];
    if (!name) return t.skip('this machine has no usable host name');
    const port = new URL(server.httpsUrl).port;
    const { stdout } = await execFileAsync(
      'curl',
      [
        '-sS',
        '--cacert',
        'certs/ca.pem',
        '--resolve',
        `${name}:${port}:127.0.0.1`,
        '-H',
        `Authorization: Bearer ${TOKEN}`,
        '--json',
        JSON.stringify({ title: 'Hello', body: 'by host name' }),
        `https://${name}:${port}/api/send`,
      ],
      { cwd: server.dir },
    );
    echoed.push(stdout);
    assert.deepEqual(JSON.parse(stdout), { delivered: 1, removed: 0, failed: [] });
  });

  // Concurrent: each case waits on a CLI process; none of the refused ones pushes anything.
  describe('shares its option parser and sender with npm run send', { concurrency: true }, () => {
    const cli = async (args: string[]) => {
      const result = await runScript('send', args, { cwd: server.dir, env: env() });
      echoed.push(result.stdout, result.stderr);
      return result;
    };

    const invalid: [string[], Record<string, unknown>][] = [
      [['--urgency', 'urgent'], { urgency: 'urgent' }],
      [['--ttl=-1'], { ttl: -1 }],
      [['--topic', 'bad topic!'], { topic: 'bad topic!' }],
      [['--url', 'ftp://example.com'], { url: 'ftp://example.com' }],
      [['--image', 'cat.png'], { image: 'cat.png' }],
      [['--badge', 'javascript:x'], { badge: 'javascript:x' }],
      [['--action', 'Open=ftp://x'], { actions: [{ title: 'Open', url: 'ftp://x' }] }],
      [
        ['--action', 'A=/a', '--action', 'B=/b', '--action', 'C=/c'],
        { actions: ['A', 'B', 'C'].map((title) => ({ title, url: `/${title}` })) },
      ],
      [['--app-badge=-1'], { appBadge: -1 }],
      [['--app-badge', 'many'], { appBadge: 'many' }],
      [['--renotify'], { renotify: true }],
      [['--timestamp', 'yesterday'], { timestamp: 'yesterday' }],
    ];
    for (const [args, options] of invalid) {
      test(`refuses ${args.join(' ')} with the same message: exit 2 from the CLI, 422 from the API`, async () => {
        const [result, answer] = await Promise.all([
          cli([...args, 'hello']),
          sendJson({ body: 'hello', ...options }),
        ]);
        assert.equal(result.code, 2, result.stderr);
        assert.equal(answer.status, 422, answer.text);
        const { error } = JSON.parse(answer.text);
        assert.equal(result.stderr.split('\n')[0], `error: ${error}`);
      });
    }

    test('pushes the same notification for the new options: flags and fields alike', async () => {
      const [args, fields, link] = [[...EVERY_OPTION_FLAGS], EVERY_OPTION, SILENCE_LINK];
      // Other cases of this block run at the same time: find these messages by their text.
      const mark = push().received.length;
      const mine = () =>
        since(mark).filter((m) => notificationOf(m.payload).body === 'Disk 91% full');
      const result = await cli([...args, 'Disk 91% full']);
      assert.equal(result.code, 0, result.stderr);
      const answer = await sendJson({ ...fields, body: 'Disk 91% full' });
      assert.equal(answer.status, 200, answer.text);
      const [fromCli, fromApi] = mine();
      assert.ok(fromCli && fromApi);
      assert.equal(fromCli.payload, fromApi.payload);
      const origin = server.httpUrl.replace('127.0.0.1', 'localhost');
      const checked = checkDeclarative(fromApi.payload, { origin, external: [link] });
      assert.deepEqual(checked.problems, []);
      assert.equal(checked.message?.app_badge, 3);
      assert.deepEqual(checked.notification, everyOptionShown(origin, 'Disk 91% full'));
    });

    test('pushes the same notification and headers for the same options', async () => {
      const options = {
        title: 'Same',
        url: '/same',
        icon: '/icon.png',
        tag: 'same',
        ttl: '120',
        urgency: 'low',
        topic: 'same-topic',
      };
      const args = Object.entries(options).flatMap(([name, value]) => [`--${name}`, value]);
      const mark = push().received.length;
      const mine = () => since(mark).filter((m) => notificationOf(m.payload).body === 'from both');
      const result = await cli([...args, 'from', 'both']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'delivered 1\n');
      const answer = await sendJson({ ...options, body: 'from both' });
      assert.deepEqual(JSON.parse(answer.text), { delivered: 1, removed: 0, failed: [] });
      const [fromCli, fromApi] = mine();

      assert.ok(fromCli && fromApi);
      const { payload, ttl, urgency, topic, endpoint } = fromCli;
      assert.deepEqual(
        { payload, ttl, urgency, topic, endpoint },
        {
          payload: fromApi.payload,
          ttl: fromApi.ttl,
          urgency: fromApi.urgency,
          topic: fromApi.topic,
          endpoint: fromApi.endpoint,
        },
      );
      assert.equal(ttl, 120);
    });
  });
});

describe('the failed-attempt limit, on a clock the test controls', () => {
  let server: Server;
  let base: string;
  let pusher: Pusher;
  let now = 0;
  const bearer = `Bearer ${TOKEN}`;

  before(async () => {
    const dir = await newDir();
    const store = await openStore(join(dir, 'subscription.json'));
    pusher = createPusher({ vapid: generateKeys(), allowlist: [] });
    const log = () => {};
    const app = createApp({
      store,
      pusher,
      files: await createStatic(join(ROOT, 'public')),
      publicKey: '',
      allowlist: [],
      limiter: createRateLimiter(0),
      log,
      origins: () => ['http://localhost:8080'],
      extraRoutes: createSendApi({
        store,
        pusher,
        firstOrigin: () => 'http://localhost:8080',
        batch: 1000,
        token: TOKEN,
        failures: createRateLimiter(10, () => now),
        log,
      }),
    });
    server = createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server?.closeAllConnections();
    server?.close();
    await pusher?.close();
  });

  test('lets the right token in again only once the minute has passed', async () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      const answer = await call(base, { authorization: 'Bearer wrong', body: 'x' });
      assert.equal(answer.status, 401, `attempt ${attempt}`);
    }
    for (const authorization of ['Bearer wrong', bearer]) {
      const answer = await call(base, { authorization, body: 'x' });
      assert.equal(answer.status, 429);
      assert.equal(answer.headers['retry-after'], '60');
    }

    // Another address is not held back (409: authenticated, nothing stored).
    const elsewhere = track(new Agent({ localAddress: '127.0.0.2' }));
    const other = await call(base, { authorization: bearer, body: 'x', dispatcher: elsewhere });
    assert.equal(other.status, 409, other.text);

    now = 45_000;
    const later = await call(base, { authorization: bearer, body: 'x' });
    assert.equal(later.status, 429);
    assert.equal(later.headers['retry-after'], '15');

    now = 60_000;
    const next = await call(base, { authorization: bearer, body: 'x' });
    assert.equal(next.status, 409, next.text);
  });
});

test('no server output, response body or send CLI output contains a token, private key or auth secret', () => {
  assert.ok(servers.length >= 3 && echoed.length > 50);
  const outputs = [...servers.map((server) => server.output()), ...echoed];
  for (const secret of secrets) {
    for (const text of outputs) assert.ok(!text.includes(secret), `leaked in: ${text}`);
  }
});
