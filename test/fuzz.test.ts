// Generated hostile input for parseSubscription and POST/DELETE /api/subscriptions.
// Reproduce a failure with the FUZZ_SEED it prints; FUZZ_RUNS=50000 for a longer run.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, Pool } from 'undici';
import { createApp } from '../src/app.ts';
import { type HostRule, loadConfig } from '../src/config.ts';
import { HttpError } from '../src/errors.ts';
import { BODY_LIMIT } from '../src/http/http.ts';
import { createRateLimiter } from '../src/http/rate-limit.ts';
import { createStatic } from '../src/http/static.ts';
import { generateKeys } from '../src/keys.ts';
import { createPusher, type Pusher } from '../src/push/pusher.ts';
import { openStore } from '../src/store/file.ts';
import type { SubscriptionStore } from '../src/store/store.ts';
import { parseSubscription } from '../src/store/subscription.ts';
import { listAll } from './store/contract.ts';
import {
  allowedEndpoints,
  bytes,
  caseRng,
  hostileEndpoints,
  int,
  mutatedEndpoint,
  nastyString,
  POLLUTION_JSON,
  pick,
  type Rng,
  subscriptionLike,
  UNSAFE_CHARACTERS,
} from './support/hostile.ts';
import { ROOT, tempDir } from './support/processes.ts';
import { type PushService, startPushService } from './support/push-service.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed) >>> 0;
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
assert.ok(Number.isInteger(RUNS) && RUNS > 0, 'FUZZ_RUNS must be a positive whole number');
const HTTP_RUNS = Math.ceil(RUNS / 2);
const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

let push: PushService;
let decoy: { port: number; connections: number; close(): Promise<void> };
let rules: readonly HostRule[];
let dir: string;
let file: string;
let store: SubscriptionStore;
let pusher: Pusher;
let dispatcher: Agent;
let server: Server;
let client: Pool;
const logs: string[] = [];
/** Every connection undici (the pusher's HTTP client) tried to open, other than to the app. */
const attempts: string[] = [];
let appPort = 0;
const onConnect = (message: unknown) => {
  const { host, port } = (message as { connectParams: { host: string; port: string } })
    .connectParams;
  if (Number(port) !== appPort) attempts.push(`${host}:${port}`);
};

before(async () => {
  push = await startPushService();
  decoy = await startDecoy();
  rules = loadConfig({ PUSH_ALLOWED_HOSTS: push.host }).pushAllowedHosts;
  dir = await tempDir('fuzz-');
  file = join(dir, 'subscription.json');
  store = await openStore(file);
  for (let i = 0; i < 3; i++) await store.add(parseSubscription(push.subscribe(), rules));
  const vapid = generateKeys('mailto:fuzz@example.com');
  dispatcher = new Agent({ connect: { ca: push.ca } });
  pusher = createPusher({ vapid, allowlist: rules, dispatcher, timeoutMs: 2000 });
  const app = createApp({
    store,
    pusher,
    files: await createStatic(join(ROOT, 'public')),
    publicKey: vapid.publicKey,
    allowlist: rules,
    limiter: createRateLimiter(0),
    log: (line) => logs.push(line),
    origins: () => ['http://localhost:8080'],
  });
  server = createServer((req, res) => void app(req, res)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  appPort = (server.address() as AddressInfo).port;
  client = new Pool(`http://127.0.0.1:${appPort}`, { connections: 8 });
  subscribe('undici:client:beforeConnect', onConnect);
});

after(async () => {
  unsubscribe('undici:client:beforeConnect', onConnect);
  await client?.close();
  server?.closeAllConnections();
  server?.close();
  await pusher?.close();
  await dispatcher?.close();
  await Promise.all([push?.close(), decoy?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A TCP listener standing in for "some other host": it counts who connects. */
async function startDecoy() {
  let connections = 0;
  const listener = createTcpServer((socket) => {
    connections++;
    socket.destroy();
  }).listen(0, '127.0.0.1');
  await once(listener, 'listening');
  return {
    port: (listener.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((resolve) => listener.close(() => resolve())),
  };
}

/** Our own reading of the allowlist, written apart from src/subscription.ts. */
function onAllowlist(endpoint: string): boolean {
  const url = new URL(endpoint);
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') return false;
  if (url.host === push.host) return true;
  if (url.port !== '') return false;
  const exact = ['fcm.googleapis.com', 'updates.push.services.mozilla.com'];
  // Wildcard entries: anything under the suffix on a label boundary (odd names such as
  // ".push.apple.com" or "a..b.push.apple.com" are accepted but stay inside the domain).
  return exact.includes(url.hostname) || /\.(push\.apple|notify\.windows)\.com$/.test(url.hostname);
}

/** Runs one case; a failure names the seed and case so that it can be replayed. */
async function fuzzCase(index: number, input: unknown, check: () => unknown): Promise<void> {
  try {
    await check();
  } catch (error) {
    const shown = preview(input);
    throw new Error(
      `fuzz case ${index} failed (FUZZ_SEED=${SEED}): ${(error as Error).message}\ninput: ${shown}`,
      { cause: error },
    );
  }
}

function preview(input: unknown): string {
  let text: string;
  try {
    text =
      JSON.stringify(input, (_key, value) => (typeof value === 'bigint' ? `${value}n` : value)) ??
      String(input);
  } catch {
    text = String(input);
  }
  // Show control, bidi and other invisible characters as escapes.
  return text
    .slice(0, 400)
    .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Our own reading of the canonical rules, written apart from src/canonical.ts. */
function assertCanonical({ endpoint, keys }: ReturnType<typeof parseSubscription>): void {
  assert.equal(new URL(endpoint).href, endpoint, 'the endpoint is its own URL serialization');
  // An https: URL serializes to ASCII: so nothing invisible, no control, bidi or space.
  assert.match(endpoint, /^[\x21-\x7e]+$/, 'only visible ASCII in the endpoint');
  for (const key of [keys.p256dh, keys.auth]) {
    assert.equal(Buffer.from(key, 'base64url').toString('base64url'), key, 'canonical, unpadded');
  }
}

function assertPrototypeClean(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTOTYPE_KEYS);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
}

test(`parseSubscription returns a clean value on the allowlist or a 400/422, for ${RUNS} generated inputs`, async () => {
  const hostile = hostileEndpoints(decoy.port);
  const counts = { accepted: 0, refused: 0 };
  for (let i = 0; i < RUNS; i++) {
    const r = caseRng(SEED, i);
    const allowed = [
      ...allowedEndpoints(r),
      `${push.origin}/push/${bytes(r, 16).toString('base64url')}`,
    ];
    const { value, intent } = subscriptionLike(r, allowed, hostile);
    await fuzzCase(i, value, () => {
      let accepted: ReturnType<typeof parseSubscription>;
      try {
        accepted = parseSubscription(value, rules);
      } catch (error) {
        assert.ok(error instanceof HttpError, `threw ${error}`);
        assert.ok(error.status === 400 || error.status === 422, `status ${error.status}`);
        if (intent === 'refuse') assert.equal(error.status, 422);
        if (intent === 'valid') assert.fail(`a valid subscription was refused: ${error.message}`);
        counts.refused++;
        return;
      }
      assert.notEqual(intent, 'refuse', 'an endpoint aimed elsewhere was accepted');
      assert.ok(onAllowlist(accepted.endpoint), `accepted ${accepted.endpoint}`);
      assert.equal(Object.getPrototypeOf(accepted), Object.prototype);
      assert.deepEqual(Object.keys(accepted), ['endpoint', 'expirationTime', 'keys']);
      assert.deepEqual(Object.keys(accepted.keys), ['p256dh', 'auth']);
      assert.ok(
        accepted.expirationTime === null || Number.isFinite(accepted.expirationTime),
        'expirationTime is null or a number',
      );
      assert.equal(Buffer.from(accepted.keys.auth, 'base64url').length, 16);
      assert.equal(Buffer.from(accepted.keys.p256dh, 'base64url')[0], 4);
      assertCanonical(accepted);
      counts.accepted++;
    });
  }
  assertPrototypeClean();
  // Both outcomes were exercised: the property above is not vacuous.
  assert.ok(counts.accepted > RUNS / 50 && counts.refused > RUNS / 2, JSON.stringify(counts));
});

test('refuses each control, bidi and whitespace character at a seeded place in a real endpoint with 422', () => {
  const { keys } = push.subscribe();
  UNSAFE_CHARACTERS.forEach((character, index) => {
    const r = caseRng(SEED ^ 0xc0de, index);
    const base = pick(r, [...allowedEndpoints(r), push.subscribe().endpoint]);
    const at = int(r, base.length + 1);
    const endpoint = base.slice(0, at) + character + base.slice(at);
    const code = `U+${character.charCodeAt(0).toString(16).padStart(4, '0')} at ${at}`;
    assert.throws(
      () => parseSubscription({ endpoint, keys }, rules),
      (error: unknown) =>
        error instanceof HttpError &&
        error.status === 422 &&
        // Not echoed (a plain space is in every message anyway).
        (character === ' ' || !error.message.includes(character)),
      `${code} (FUZZ_SEED=${SEED})`,
    );
  });
});

test('refuses every endpoint trick aimed at another host with 422', () => {
  const { keys } = push.subscribe();
  for (const endpoint of hostileEndpoints(decoy.port)) {
    assert.throws(
      () => parseSubscription({ endpoint, keys }, rules),
      (error: unknown) => error instanceof HttpError && error.status === 422,
      endpoint,
    );
  }
});

/** A request body of a random hostile kind, and the content type it is sent with. */
function hostileBody(
  r: Rng,
  method: string,
  stored: readonly string[],
): { body: Buffer; type?: string } {
  const type = () =>
    r() < 0.85
      ? pick(r, ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON'])
      : pick(r, [
          undefined,
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/json, text/plain',
          'application/jsonx',
        ]);
  const json = (value: unknown) => Buffer.from(stringify(value));
  switch (int(r, 9)) {
    case 0:
      return { body: bytes(r, int(r, 2000)), type: type() };
    case 1: {
      const text = JSON.stringify(push.subscribe());
      return { body: Buffer.from(text.slice(0, int(r, text.length))), type: type() };
    }
    case 2: {
      // Built as text: JSON.stringify itself overflows the stack on deep nesting.
      const depth = int(r, BODY_LIMIT / 2 + 200);
      const [open, close] = r() < 0.5 ? ['[', ']'] : ['{"a":', '}'];
      return { body: Buffer.from(`${open.repeat(depth)}1${close.repeat(depth)}`), type: type() };
    }
    case 3:
      return { body: json({ endpoint: 'A'.repeat(BODY_LIMIT + int(r, 20_000)) }), type: type() };
    case 4:
      return { body: Buffer.from(pick(r, POLLUTION_JSON)), type: type() };
    case 5: {
      // Invalid UTF-8, a byte-order mark, NUL bytes around otherwise valid JSON.
      const junk = pick(r, [
        [0xef, 0xbb, 0xbf],
        [0xff, 0xfe],
        [0xc3, 0x28],
        [0x00],
        [0xed, 0xa0, 0x80],
      ]);
      return { body: Buffer.concat([Buffer.from(junk), json(push.subscribe())]), type: type() };
    }
    case 6:
      if (method === 'DELETE') {
        // Near misses of stored endpoints: only the exact string may remove one.
        const near = pick(r, stored);
        const variants = [
          `${near}/`,
          ` ${near}`,
          `${near}\n`,
          near.toUpperCase(),
          near.replace('/push/', '/push%2f'),
          mutatedEndpoint(r, near),
        ];
        const endpoint = pick(
          r,
          variants.filter((v) => !stored.includes(v)),
        );
        return { body: json({ endpoint }), type: type() };
      }
      return {
        body: json({
          ...push.subscribe(),
          endpoint: mutatedEndpoint(r, push.subscribe().endpoint),
        }),
        type: type(),
      };
    case 7:
      return { body: json({ endpoint: nastyString(r), keys: nastyString(r) }), type: type() };
    default: {
      const hostile = hostileEndpoints(decoy.port);
      let { value } = subscriptionLike(r, allowedEndpoints(r), hostile);
      // Only invalid subscriptions: a valid one would legitimately be stored and welcomed.
      if (isAccepted(value)) value = { endpoint: pick(r, hostile), keys: push.subscribe().keys };
      return { body: json(value), type: type() };
    }
  }
}

/** JSON as a client would send it; values nested too deeply for JSON.stringify become a string. */
function stringify(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? Number(v) : v)) ?? 'null';
  } catch {
    return '"too deep"';
  }
}

function isAccepted(value: unknown): boolean {
  try {
    parseSubscription(JSON.parse(stringify(value)), rules);
    return true;
  } catch {
    return false;
  }
}

/** Whether the server would store this body: such cases are swapped for a hostile endpoint. */
function wouldSubscribe(body: Buffer, type: string | undefined): boolean {
  if ((type ?? '').split(';')[0]?.trim().toLowerCase() !== 'application/json') return false;
  try {
    return isAccepted(JSON.parse(body.toString('utf8')));
  } catch {
    return false;
  }
}

test(`POST and DELETE /api/subscriptions answer ${2 * HTTP_RUNS} hostile bodies with 4xx, change nothing and connect nowhere`, async () => {
  const before = await readFile(file);
  const storedBefore = await listAll(store);
  const statuses = new Map<string, number>();
  const allowed = { POST: [400, 413, 415, 422], DELETE: [204, 400, 413, 415] };
  let next = 0;
  const worker = async () => {
    while (next < 2 * HTTP_RUNS) {
      const index = next++;
      const method = index % 2 === 0 ? 'POST' : 'DELETE';
      const r = caseRng(SEED ^ 0xb0d1e5, index);
      const stored = (await listAll(store)).map((s) => s.endpoint);
      let { body, type } = hostileBody(r, method, stored);
      if (method === 'POST' && wouldSubscribe(body, type)) {
        body = Buffer.from(
          JSON.stringify({
            endpoint: pick(r, hostileEndpoints(decoy.port)),
            keys: push.subscribe().keys,
          }),
        );
      }
      await fuzzCase(index, { method, type, body: body.toString('utf8') }, async () => {
        const response = await client
          .request({
            path: '/api/subscriptions',
            method,
            body,
            headers: type ? { 'content-type': type } : {},
          })
          .catch((error: { code?: string }) => {
            // The server answers 413 before reading an oversized body and closes the connection,
            // so the client may see the reset while still sending it.
            if (
              body.length > BODY_LIMIT &&
              /ECONNRESET|EPIPE|UND_ERR_SOCKET/.test(String(error.code))
            )
              return undefined;
            throw error;
          });
        if (!response) return;
        const text = await response.body.text();
        const key = `${method} ${response.statusCode}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        assert.ok(allowed[method].includes(response.statusCode), `${key}: ${text}`);
        if (response.statusCode !== 204) assert.equal(typeof JSON.parse(text).error, 'string');
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));

  assert.ok(statuses.size >= 5, `a variety of answers: ${JSON.stringify([...statuses])}`);
  assert.deepEqual(await readFile(file), before, 'subscription.json is byte-for-byte unchanged');
  assert.deepEqual(await readdir(dir), ['subscription.json'], 'no temp or lock file is left');
  assert.deepEqual(await listAll(store), storedBefore);
  assert.deepEqual(attempts, [], 'the pusher tried no connection at all');
  assert.equal(push.connections, 0, 'the push service was not contacted');
  assert.equal(decoy.connections, 0, 'the stand-in for another host was not contacted');
  assert.deepEqual(
    logs.filter((line) => /internal error/.test(line)),
    [],
  );
  assertPrototypeClean();
});
