import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createECDH, createPrivateKey, sign } from 'node:crypto';
import https from 'node:https';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import webpush from 'web-push';
import {
  decryptAes128gcm,
  type MintedSubscription,
  type PushService,
  startPushService,
} from './support/push-service.ts';
import { RFC8291 } from './support/rfc8291.ts';

const b64 = (s: string): Buffer => Buffer.from(s, 'base64url');
const flipLastBit = (b: Buffer): Buffer => {
  b.writeUInt8(b.readUInt8(b.length - 1) ^ 1, b.length - 1);
  return b;
};

const vapid = webpush.generateVAPIDKeys();
const vapidDetails = { subject: 'mailto:test@example.com', ...vapid };
let service: PushService;
let agent: https.Agent;

before(async () => {
  service = await startPushService();
  agent = new https.Agent({ ca: service.ca, keepAlive: true });
});

after(async () => {
  agent.destroy();
  await service.close();
});

const send = (sub: MintedSubscription, payload = 'hello', extra: webpush.RequestOptions = {}) =>
  webpush.sendNotification(sub, payload, { vapidDetails, TTL: 60, agent, ...extra });

/** POSTs raw bytes, for requests web-push would refuse to build. */
function post(
  url: string,
  headers: Record<string, string>,
  body: Buffer = Buffer.alloc(0),
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: 'POST', headers: { 'content-length': String(body.length), ...headers }, agent },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject).end(body);
  });
}

/** Headers web-push would send, with an Authorization we can tamper with. */
function validHeaders(authorization?: string): {
  ttl: string;
  'content-encoding': string;
  authorization: string;
} {
  return {
    ttl: '60',
    'content-encoding': 'aes128gcm',
    authorization:
      authorization ??
      webpush.getVapidHeaders(
        service.origin,
        vapidDetails.subject,
        vapid.publicKey,
        vapid.privateKey,
        'aes128gcm',
      ).Authorization,
  };
}
/** A vapid Authorization header over any JWT header and claims, signed with our VAPID key. */
function vapidHeader(jwtHeader: object, claims: object): string {
  const pub = b64(vapid.publicKey);
  const jwk = {
    kty: 'EC',
    crv: 'P-256',
    d: vapid.privateKey,
    x: pub.subarray(1, 33).toString('base64url'),
    y: pub.subarray(33).toString('base64url'),
  };
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  const unsigned = [jwtHeader, claims]
    .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
    .join('.');
  const signature = sign('sha256', Buffer.from(unsigned), { key, dsaEncoding: 'ieee-p1363' });
  return `vapid t=${unsigned}.${signature.toString('base64url')}, k=${vapid.publicKey}`;
}
const encrypted = (sub: MintedSubscription): Buffer =>
  webpush.encrypt(sub.keys.p256dh, sub.keys.auth, 'hi', 'aes128gcm').cipherText;

async function rejectsWith(
  promise: Promise<unknown>,
  statusCode: number,
): Promise<webpush.WebPushError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return error instanceof webpush.WebPushError && error.statusCode === statusCode;
  });
  assert.ok(caught instanceof webpush.WebPushError);
  return caught;
}

test('decrypts the RFC 8291 Appendix A example', () => {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(b64(RFC8291.uaPrivate));
  assert.equal(ecdh.getPublicKey('base64url'), RFC8291.uaPublic, 'the vector is self-consistent');
  const plaintext = decryptAes128gcm(
    b64(RFC8291.body),
    b64(RFC8291.uaPrivate),
    b64(RFC8291.uaPublic),
    b64(RFC8291.authSecret),
  );
  assert.equal(plaintext.toString('utf8'), RFC8291.plaintext);
});

test('refuses to decrypt a tampered body', () => {
  const body = flipLastBit(b64(RFC8291.body));
  assert.throws(() =>
    decryptAes128gcm(body, b64(RFC8291.uaPrivate), b64(RFC8291.uaPublic), b64(RFC8291.authSecret)),
  );
});

test('mints subscriptions with a P-256 key and a 16-byte auth secret on its own origin', () => {
  const sub = service.subscribe();
  assert.match(sub.endpoint, new RegExp(`^${service.origin}/push/[\\w-]+$`));
  assert.equal(service.origin, `https://${service.host}`);
  assert.equal(b64(sub.keys.p256dh).length, 65);
  assert.equal(b64(sub.keys.auth).length, 16);
  assert.equal(sub.expirationTime, null);
  assert.notEqual(service.subscribe().endpoint, sub.endpoint);
});

test('accepts a message sent with web-push and records what arrived', async () => {
  const sub = service.subscribe();
  const result = await send(sub, 'Grüße 🍉', { urgency: 'high', topic: 'greeting' });
  assert.equal(result.statusCode, 201);
  assert.match(result.headers.location ?? '', new RegExp(`^${service.origin}/message/`));
  const message = service.received.find((r) => r.endpoint === sub.endpoint);
  assert.ok(message);
  assert.equal(message.payload, 'Grüße 🍉');
  assert.equal(message.ttl, 60);
  assert.equal(message.urgency, 'high');
  assert.equal(message.topic, 'greeting');
  assert.equal(message.claims.aud, service.origin);
  assert.equal(message.claims.sub, 'mailto:test@example.com');
  assert.ok(message.claims.exp > Date.now() / 1000);
  assert.equal(message.vapidPublicKey, vapid.publicKey);
  assert.match(message.authorization, /^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=/);
});

test('decrypt() opens a body for a minted subscription', () => {
  const sub = service.subscribe();
  assert.equal(service.decrypt(sub.endpoint, encrypted(sub)), 'hi');
  assert.throws(
    () => service.decrypt(`${service.origin}/push/elsewhere`, encrypted(sub)),
    /not minted here/,
  );
});

test('waitFor resolves once enough messages arrived and explains a timeout', async () => {
  const sub = service.subscribe();
  const count = service.received.length + 1;
  const waiting = service.waitFor(count);
  await send(sub);
  assert.ok((await waiting).length >= count);
  await assert.rejects(
    service.waitFor(count + 99, 20),
    /expected \d+ messages within 20 ms, got \d+/,
  );
});

test('rejects a JWT signed by a different key than k with 401', async () => {
  const sub = service.subscribe();
  const other = webpush.generateVAPIDKeys();
  const forged = validHeaders().authorization.replace(/k=.*$/, `k=${other.publicKey}`);
  const error = await rejectsWith(
    webpush.sendNotification(sub, 'x', { headers: { Authorization: forged }, TTL: 60, agent }),
    401,
  );
  assert.match(error.body, /signature/);
  assert.deepEqual(service.rejected.at(-1), {
    endpoint: sub.endpoint,
    status: 401,
    reason: 'JWT signature does not match k',
  });
});

test('rejects a JWT for another audience with 403', async () => {
  const sub = service.subscribe();
  const { Authorization } = webpush.getVapidHeaders(
    'https://push.example.net',
    vapidDetails.subject,
    vapid.publicKey,
    vapid.privateKey,
    'aes128gcm',
  );
  assert.equal((await post(sub.endpoint, validHeaders(Authorization), encrypted(sub))).status, 403);
});

test('rejects an expired JWT with 401', async () => {
  const sub = service.subscribe();
  const past = Math.floor(Date.now() / 1000) - 60;
  const { Authorization } = webpush.getVapidHeaders(
    service.origin,
    vapidDetails.subject,
    vapid.publicKey,
    vapid.privateKey,
    'aes128gcm',
    past,
  );
  const response = await post(sub.endpoint, validHeaders(Authorization), encrypted(sub));
  assert.equal(response.status, 401);
  assert.match(response.body, /exp/);
});

test('rejects other malformed VAPID headers with 401', async (t) => {
  const es256 = { typ: 'JWT', alg: 'ES256' };
  const inAnHour = Math.floor(Date.now() / 1000) + 3600;
  const claims = { aud: service.origin, exp: inAnHour, sub: 'mailto:test@example.com' };
  const cases: [string, string][] = [
    ['a well-formed header signed here (control)', vapidHeader(es256, claims)],
    ['no Authorization at all', ''],
    ['a bearer token', 'Bearer abc'],
    ['an alg other than ES256', vapidHeader({ typ: 'JWT', alg: 'HS256' }, claims)],
    ['exp more than 24 hours ahead', vapidHeader(es256, { ...claims, exp: inAnHour + 86400 })],
    [
      'a sub that is neither mailto: nor https:',
      vapidHeader(es256, { ...claims, sub: 'http://example.com' }),
    ],
    ['no exp', vapidHeader(es256, { aud: claims.aud, sub: claims.sub })],
  ];
  for (const [name, authorization] of cases) {
    await t.test(name, async () => {
      const sub = service.subscribe();
      const response = await post(sub.endpoint, validHeaders(authorization), encrypted(sub));
      assert.equal(response.status, name.endsWith('(control)') ? 201 : 401, response.body);
    });
  }
});

test('rejects a request without TTL with 400', async () => {
  const sub = service.subscribe();
  const { ttl, ...headers } = validHeaders();
  assert.equal(ttl, '60');
  const response = await post(sub.endpoint, headers, encrypted(sub));
  assert.equal(response.status, 400);
  assert.match(response.body, /TTL/);
});

test('rejects a body it cannot decrypt with 400 and one over 8 KiB with 413', async () => {
  const sub = service.subscribe();
  const garbled = flipLastBit(encrypted(sub));
  const response = await post(sub.endpoint, validHeaders(), garbled);
  assert.equal(response.status, 400);
  assert.match(response.body, /cannot decrypt/);
  assert.equal((await post(sub.endpoint, validHeaders(), Buffer.alloc(9000))).status, 413);
});

test('is trusted by a child process through NODE_EXTRA_CA_CERTS=caFile', async () => {
  const script =
    'const r = await fetch(process.argv[1], { method: "POST" }); console.log(r.status);';
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', script, `${service.origin}/push/none`],
    {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: service.caFile },
    },
  );
  assert.equal(stdout.trim(), '404');
});

test('answers 404 to an unknown endpoint', async () => {
  await rejectsWith(
    send({ ...service.subscribe(), endpoint: `${service.origin}/push/unknown` }),
    404,
  );
  assert.equal(service.rejected.at(-1)?.status, 404);
});

test('answers 410 while told to, then reverts after `times`', async () => {
  const sub = service.subscribe();
  service.behave(sub.endpoint, { status: 410 }, 1);
  await rejectsWith(send(sub), 410);
  assert.deepEqual(service.rejected.at(-1), {
    endpoint: sub.endpoint,
    status: 410,
    reason: 'behaviour 410',
  });
  assert.equal((await send(sub)).statusCode, 201);
});

test('answers 429 with Retry-After to every endpoint until cleared', async () => {
  const [a, b] = [service.subscribe(), service.subscribe()];
  service.behave('*', { status: 429, retryAfter: 30 });
  try {
    for (const sub of [a, b, a])
      assert.equal((await rejectsWith(send(sub), 429)).headers['retry-after'], '30');
  } finally {
    service.behave('*', null);
  }
  assert.equal((await send(b)).statusCode, 201);
});

test('resets the connection when told to', async () => {
  const sub = service.subscribe();
  service.behave(sub.endpoint, { reset: true }, 1);
  await assert.rejects(send(sub), /socket hang up|ECONNRESET/);
});

test('holds a stalled request until close', async () => {
  const own = await startPushService();
  const ownAgent = new https.Agent({ ca: own.ca });
  try {
    const sub = own.subscribe();
    own.behave(sub.endpoint, { stall: true });
    const outcome = webpush
      .sendNotification(sub, 'x', { vapidDetails, TTL: 60, agent: ownAgent })
      .then(
        () => 'answered',
        () => 'failed',
      );
    while (own.requests === 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal(
      await Promise.race([outcome, new Promise((r) => setTimeout(r, 200, 'pending'))]),
      'pending',
    );
    await own.close();
    assert.equal(await outcome, 'failed');
  } finally {
    ownAgent.destroy();
    await own.close();
  }
});

test('delays every answer by latencyMs', async () => {
  const slow = await startPushService({ latencyMs: 150 });
  const slowAgent = new https.Agent({ ca: slow.ca });
  try {
    const started = Date.now();
    await rejectsWith(
      webpush.sendNotification(
        { ...slow.subscribe(), endpoint: `${slow.origin}/push/none` },
        null,
        { TTL: 0, agent: slowAgent },
      ),
      404,
    );
    assert.ok(Date.now() - started >= 140);
  } finally {
    slowAgent.destroy();
    await slow.close();
  }
});
