import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { HttpError } from '../../src/errors.ts';
import {
  endpointProblem,
  parseShape,
  parseSubscription,
  storedProblem,
} from '../../src/store/subscription.ts';
import { withStrayBits } from '../support/hostile.ts';

const defaults = loadConfig({}).pushAllowedHosts;
const withHosts = (hosts: string) => loadConfig({ PUSH_ALLOWED_HOSTS: hosts }).pushAllowedHosts;

const p256dh = (): string => createECDH('prime256v1').generateKeys().toString('base64url');
const auth = (bytes = 16): string => randomBytes(bytes).toString('base64url');
const FCM = 'https://fcm.googleapis.com/fcm/send/dXl2Y3k6APA91bH';

/** A browser-shaped PushSubscription with real keys. */
function subscription(endpoint = FCM, overrides: Record<string, unknown> = {}) {
  return { endpoint, expirationTime: null, keys: { p256dh: p256dh(), auth: auth() }, ...overrides };
}

function withKeys(keys: Record<string, unknown>) {
  return subscription(FCM, { keys: { p256dh: p256dh(), auth: auth(), ...keys } });
}

/** Asserts that parsing `input` fails with an HttpError of `status`. */
function refuses(input: unknown, status: number, rules = defaults): HttpError {
  let caught: unknown;
  try {
    parseSubscription(input, rules);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HttpError, `expected an HttpError for ${JSON.stringify(input)}`);
  assert.equal(caught.status, status, caught.message);
  assert.ok(caught.message.length > 0);
  return caught;
}

const pushServices = [
  ['FCM', 'https://fcm.googleapis.com/fcm/send/cKq3kH:APA91bGx'],
  ['Mozilla', 'https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk'],
  ['Apple', 'https://web.push.apple.com/QGuQyavXutnMd4IdFh'],
  ['WNS', 'https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD'],
];

for (const [name, endpoint] of pushServices) {
  test(`accepts a real-shaped ${name} subscription`, () => {
    const input = subscription(endpoint);
    assert.deepEqual(parseSubscription(input, defaults), input);
  });
}

test('accepts a numeric expirationTime and a missing one as null', () => {
  const expiring = subscription(FCM, { expirationTime: 1_900_000_000_000 });
  assert.equal(parseSubscription(expiring, defaults).expirationTime, 1_900_000_000_000);
  const { expirationTime: _, ...rest } = subscription();
  assert.equal(parseSubscription(rest, defaults).expirationTime, null);
});

test('accepts padded base64url keys and stores them unpadded', () => {
  const key = createECDH('prime256v1').generateKeys();
  const secret = randomBytes(16);
  const parsed = parseSubscription(
    subscription(FCM, {
      keys: { p256dh: `${key.toString('base64url')}=`, auth: `${secret.toString('base64url')}==` },
    }),
    defaults,
  );
  assert.deepEqual(parsed.keys, {
    p256dh: key.toString('base64url'),
    auth: secret.toString('base64url'),
  });
});

test('returns a clean copy without extra or prototype keys', () => {
  const valid = subscription();
  const { p256dh: key, auth: secret } = valid.keys;
  // JSON.parse makes "__proto__" an own property, as it would for a request body.
  const input: unknown = JSON.parse(
    `{"__proto__":{"polluted":true},"endpoint":"${FCM}","expirationTime":null,"extra":1,` +
      `"keys":{"__proto__":{"polluted":true},"p256dh":"${key}","auth":"${secret}","extra":1}}`,
  );
  const parsed = parseSubscription(input, defaults);
  assert.notEqual(parsed, input);
  assert.deepEqual(Object.keys(parsed), ['endpoint', 'expirationTime', 'keys']);
  assert.deepEqual(Object.keys(parsed.keys), ['p256dh', 'auth']);
  assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  assert.equal(Object.getPrototypeOf(parsed.keys), Object.prototype);
  assert.equal(Reflect.get(parsed, 'polluted'), undefined);
  assert.equal(Reflect.get(parsed.keys, 'polluted'), undefined);
  assert.deepEqual(parsed, valid);
});

const badShapes: [string, unknown][] = [
  ['null', null],
  ['a string', 'https://fcm.googleapis.com/fcm/send/x'],
  ['a number', 42],
  ['an array', [subscription()]],
  ['an object without endpoint', { ...subscription(), endpoint: undefined }],
  ['a numeric endpoint', subscription(FCM, { endpoint: 42 })],
  ['an empty endpoint', subscription('')],
  ['an object endpoint', subscription(FCM, { endpoint: { href: FCM } })],
  ['missing keys', subscription(FCM, { keys: undefined })],
  ['keys that are a string', subscription(FCM, { keys: 'p256dh' })],
  ['keys that are an array', subscription(FCM, { keys: [p256dh(), auth()] })],
  ['keys without p256dh', withKeys({ p256dh: undefined })],
  ['keys without auth', withKeys({ auth: undefined })],
  ['a numeric p256dh', withKeys({ p256dh: 4 })],
  ['an array auth', withKeys({ auth: [1, 2] })],
  ['a string expirationTime', subscription(FCM, { expirationTime: '1700000000000' })],
  ['a boolean expirationTime', subscription(FCM, { expirationTime: true })],
  ['an object expirationTime', subscription(FCM, { expirationTime: {} })],
];

for (const [what, input] of badShapes) {
  test(`answers 400 to ${what}`, () => {
    refuses(input, 400);
  });
}

/** A real P-256 point with one byte of its y coordinate changed: no longer on the curve. */
function offCurvePoint(): string {
  const point = createECDH('prime256v1').generateKeys();
  point[64] = (point[64] as number) ^ 0x01;
  return point.toString('base64url');
}

function compressedPoint(): string {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return ecdh.getPublicKey(null, 'compressed').toString('base64url');
}

const badValues: [string, unknown][] = [
  ['an http: endpoint', subscription('http://fcm.googleapis.com/fcm/send/x')],
  ['a wss: endpoint', subscription('wss://fcm.googleapis.com/fcm/send/x')],
  ['an endpoint that is not a URL', subscription('fcm.googleapis.com/fcm/send/x')],
  ['a host not on the allowlist', subscription('https://push.example.com/x')],
  ['an IPv4 literal', subscription('https://127.0.0.1/push/x')],
  ['a hex IPv4 literal', subscription('https://0x7f.1/push/x')],
  ['a decimal IPv4 literal', subscription('https://2130706433/push/x')],
  ['an octal IPv4 literal', subscription('https://017700000001/push/x')],
  ['an IPv6 literal', subscription('https://[::1]/push/x')],
  ['an IPv4-mapped IPv6 literal', subscription('https://[::ffff:127.0.0.1]/push/x')],
  [
    'a private IPv4 literal with a push host in the path',
    subscription('https://10.0.0.1/.google.com/'),
  ],
  ['user info in the endpoint', subscription('https://user@fcm.googleapis.com/fcm/send/x')],
  ['user and password in the endpoint', subscription('https://a:b@fcm.googleapis.com/fcm/send/x')],
  ['a push host as user info', subscription('https://fcm.googleapis.com@evil.example/x')],
  ['a look-alike suffix', subscription('https://evilpush.apple.com/x')],
  ['the bare wildcard domain', subscription('https://push.apple.com/x')],
  ['a push host as a prefix', subscription('https://fcm.googleapis.com.evil.example/x')],
  ['a trailing dot', subscription('https://fcm.googleapis.com./fcm/send/x')],
  ['a subdomain of an exact host', subscription('https://x.fcm.googleapis.com/fcm/send/x')],
  ['an overlong endpoint', subscription(`${FCM}/${'a'.repeat(2048)}`)],
  ['a p256dh that is not on the curve', withKeys({ p256dh: offCurvePoint() })],
  ['a 64-byte p256dh', withKeys({ p256dh: randomBytes(64).toString('base64url') })],
  ['a compressed p256dh', withKeys({ p256dh: compressedPoint() })],
  ['an empty p256dh', withKeys({ p256dh: '' })],
  ['a 15-byte auth', withKeys({ auth: auth(15) })],
  ['a 17-byte auth', withKeys({ auth: auth(17) })],
  ['an empty auth', withKeys({ auth: '' })],
  ['standard base64 in auth', withKeys({ auth: '+/+/+/+/+/+/+/+/+/+/+w' })],
  ['spaces in p256dh', withKeys({ p256dh: ` ${p256dh()}` })],
  ['a dot in auth', withKeys({ auth: `${auth(15)}.` })],
];

for (const [what, input] of badValues) {
  test(`answers 422 to ${what}`, () => {
    refuses(input, 422);
  });
}

test('accepts an endpoint of exactly 2048 characters', () => {
  const endpoint = `${FCM}/`.padEnd(2048, 'a');
  assert.equal(parseSubscription(subscription(endpoint), defaults).endpoint, endpoint);
});

test('says what is wrong with an endpoint in the error message', () => {
  assert.match(refuses(subscription('http://fcm.googleapis.com/x'), 422).message, /https/);
  assert.match(refuses(subscription('https://127.0.0.1/x'), 422).message, /IP address/);
  assert.match(refuses(subscription('https://a@fcm.googleapis.com/x'), 422).message, /user info/);
  assert.match(
    refuses(subscription('https://push.example.com/x'), 422).message,
    /push\.example\.com.*PUSH_ALLOWED_HOSTS/,
  );
  assert.match(refuses(withKeys({ auth: auth(15) }), 422).message, /keys\.auth.*16 bytes/);
  assert.match(refuses(withKeys({ p256dh: offCurvePoint() }), 422).message, /keys\.p256dh.*P-256/);
});

test('an operator entry without a port allows its host on any port', () => {
  const rules = withHosts('push.example.com');
  for (const endpoint of ['https://push.example.com/x', 'https://push.example.com:8443/x']) {
    assert.equal(parseSubscription(subscription(endpoint), rules).endpoint, endpoint);
  }
  refuses(subscription('https://x.push.example.com/x'), 422, rules);
});

test('an operator entry with a port allows only that port', () => {
  const rules = withHosts('push.example.com:8443');
  parseSubscription(subscription('https://push.example.com:8443/x'), rules);
  refuses(subscription('https://push.example.com/x'), 422, rules);
  refuses(subscription('https://push.example.com:9443/x'), 422, rules);
});

test('an operator entry with :443 allows the default port only', () => {
  for (const entry of ['push.example.com:443', 'push.example.com:0443']) {
    const rules = withHosts(entry);
    parseSubscription(subscription('https://push.example.com/x'), rules);
    // Spelled out, the default port is not canonical, but the send-time check still allows it.
    assert.equal(endpointProblem('https://push.example.com:443/x', rules), undefined);
    refuses(subscription('https://push.example.com:8443/x'), 422, rules);
  }
});

test('an operator *.suffix entry allows subdomains but not the bare domain', () => {
  const rules = withHosts('*.push.example.com');
  parseSubscription(subscription('https://eu.push.example.com/x'), rules);
  parseSubscription(subscription('https://a.b.push.example.com/x'), rules);
  refuses(subscription('https://push.example.com/x'), 422, rules);
  refuses(subscription('https://evilpush.example.com/x'), 422, rules);
});

test('an IP literal is allowed only when an operator entry names it exactly', () => {
  const rules = withHosts('127.0.0.1:8443,[::1]');
  parseSubscription(subscription('https://127.0.0.1:8443/push/x'), rules);
  // Other spellings of the same address are the same parsed host (at send time; a new
  // subscription must use the canonical spelling).
  assert.equal(endpointProblem('https://0x7f.1:8443/push/x', rules), undefined);
  refuses(subscription('https://0x7f.1:8443/push/x'), 422, rules);
  parseSubscription(subscription('https://[::1]/push/x'), rules);
  parseSubscription(subscription('https://[::1]:9000/push/x'), rules);
  refuses(subscription('https://127.0.0.1:9443/push/x'), 422, rules);
  refuses(subscription('https://127.0.0.2:8443/push/x'), 422, rules);
  refuses(subscription('https://[::ffff:127.0.0.1]:8443/push/x'), 422, rules);
});

const VISIBLE_ASCII = /^[\x20-\x7e]+$/;
// One of each kind, and both ends of each range.
const unsafeCharacters: [string, string, RegExp][] = [
  ['NUL', '\u0000', /control character/],
  ['BEL', '\u0007', /control character/],
  ['ESC', '\u001b', /control character/],
  ['US', '\u001f', /control character/],
  ['DEL', '\u007f', /control character/],
  ['C1 NEL', '\u0085', /control character/],
  ['C1 CSI', '\u009b', /control character/],
  ['C1 APC', '\u009f', /control character/],
  ...['\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e'].map(
    (c): [string, string, RegExp] => [`bidi U+${hex(c)}`, c, /bidirectional text control/],
  ),
  ...['\u2066', '\u2067', '\u2068', '\u2069'].map((c): [string, string, RegExp] => [
    `bidi isolate U+${hex(c)}`,
    c,
    /bidirectional text control/,
  ]),
  ['a space', ' ', /whitespace/],
  ['a tab', '\t', /control character/],
  ['a line feed', '\n', /control character/],
  ['a no-break space', '\u00a0', /whitespace/],
  ['a line separator', '\u2028', /whitespace/],
  ['an ideographic space', '\u3000', /whitespace/],
  ['a byte-order mark', '\ufeff', /whitespace/],
];

function hex(c: string): string {
  return (c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0');
}

for (const [what, c, message] of unsafeCharacters) {
  test(`answers 422 to an endpoint with ${what} anywhere, saying so without echoing it`, () => {
    const places = [`${FCM}${c}`, `${FCM}/a${c}b`, `${FCM}?x=${c}`, `${c}${FCM}`, `${FCM}#${c}`];
    for (const endpoint of places) {
      const error = refuses(subscription(endpoint), 422);
      assert.match(error.message, message, JSON.stringify(endpoint));
      assert.match(error.message, /\(character \d+\)/);
      assert.match(error.message, VISIBLE_ASCII, 'no control, bidi or other invisible character');
    }
  });
}

const notCanonical: [string, string][] = [
  ['an upper-case host', 'https://FCM.googleapis.com/fcm/send/x'],
  ['an upper-case scheme', 'HTTPS://fcm.googleapis.com/fcm/send/x'],
  ['the default port spelled out', 'https://fcm.googleapis.com:443/fcm/send/x'],
  ['a "." segment', 'https://fcm.googleapis.com/fcm/./send/x'],
  ['a ".." segment', 'https://fcm.googleapis.com/fcm/x/../send/x'],
  ['a percent-encoded dot segment', 'https://fcm.googleapis.com/fcm/%2e%2E/send/x'],
  ['no path', 'https://fcm.googleapis.com'],
  ['backslashes', 'https:\\\\fcm.googleapis.com\\fcm\\send\\x'],
  ['one slash', 'https:/fcm.googleapis.com/fcm/send/x'],
  ['a non-ASCII letter in the path', 'https://fcm.googleapis.com/fcm/send/caf\u00e9'],
  ['a lone surrogate', 'https://fcm.googleapis.com/fcm/send/\ud800'],
  ['a zero-width space', 'https://fcm.googleapis.com/fcm/send/a\u200bb'],
  ['a double quote', 'https://fcm.googleapis.com/fcm/send/a"b'],
  ['an unencoded "<"', 'https://fcm.googleapis.com/fcm/send/a<b'],
  ['a fullwidth dot in the host', 'https://fcm.googleapis\uff0ecom/fcm/send/x'],
];

for (const [what, endpoint] of notCanonical) {
  test(`answers 422 to an endpoint with ${what}: not its own URL serialization`, () => {
    assert.notEqual(new URL(endpoint).href, endpoint, 'the case really is not canonical');
    const error = refuses(subscription(endpoint), 422);
    assert.match(error.message, /"endpoint" is not written the way a URL parser writes it back/);
    assert.match(error.message, VISIBLE_ASCII);
  });
}

test('accepts an endpoint with percent-encoding the URL parser keeps as it is', () => {
  const endpoint = `${FCM}/%41%2Fb?token=%20x#%E2%80%AE`;
  assert.equal(new URL(endpoint).href, endpoint);
  assert.equal(parseSubscription(subscription(endpoint), defaults).endpoint, endpoint);
});

const badKeyText: [string, Record<string, unknown>, RegExp][] = [
  ['two "=" after an 87-character p256dh', { p256dh: `${p256dh()}==` }, /p256dh.*"=" padding/],
  ['one "=" after a 22-character auth', { auth: `${auth()}=` }, /auth.*"=" padding/],
  ['three "=" after auth', { auth: `${auth()}===` }, /auth.*"=" padding/],
  ['"=" after a length that needs none', { auth: `${auth(15)}=` }, /auth.*"=" padding/],
  ['"=" in the middle', { auth: `${auth(6)}=${auth(9)}` }, /auth.*alphabet/],
  ['stray bits in the last p256dh character', { p256dh: withStrayBits(p256dh()) }, /p256dh.*stray/],
  ['stray bits in the last auth character', { auth: withStrayBits(auth()) }, /auth.*stray/],
  ['an impossible length', { p256dh: `${p256dh()}AB` }, /p256dh.*length/],
];

for (const [what, keys, message] of badKeyText) {
  test(`answers 422 to ${what}`, () => {
    assert.match(refuses(withKeys(keys), 422).message, message);
  });
}

test('reads back stored entries that the stricter checks refuse, and names what each lacks', () => {
  const key = createECDH('prime256v1').generateKeys().toString('base64url');
  const secret = auth();
  const legacy: [unknown, RegExp][] = [
    [subscription(`${FCM}\u202e`), /bidirectional/],
    [subscription(`${FCM}/a\u0000b`), /control character/],
    [subscription('https://FCM.googleapis.com/x'), /URL parser/],
    [subscription(FCM, { keys: { p256dh: withStrayBits(key), auth: secret } }), /p256dh.*stray/],
    [subscription(FCM, { keys: { p256dh: key, auth: withStrayBits(secret) } }), /auth.*stray/],
  ];
  for (const [input, problem] of legacy) {
    refuses(input, 422);
    const stored = parseShape(input);
    assert.deepEqual(stored, input, 'kept exactly as it was');
    assert.match(storedProblem(stored) ?? '', problem);
  }
  // Padding that was wrong is dropped, as it always was: what is kept is then canonical.
  const padded = parseShape(subscription(FCM, { keys: { p256dh: `${key}==`, auth: secret } }));
  assert.equal(padded.keys.p256dh, key);
  assert.equal(storedProblem(padded), undefined);
  assert.equal(storedProblem(parseSubscription(subscription(), defaults)), undefined);
});

test('reads back a stored p256dh off the curve, which fails at send time instead', () => {
  const stored = parseShape(withKeys({ p256dh: offCurvePoint() }));
  assert.equal(Buffer.from(stored.keys.p256dh, 'base64url').length, 65);
  assert.throws(() => parseShape(withKeys({ p256dh: compressedPoint() })), /P-256/);
});

test('a posted subscription cannot claim an origin: the server records it from the request', () => {
  const input = subscription(FCM, { origin: 'https://10.77.0.1:4443' });
  const parsed = parseSubscription(input, defaults);
  assert.equal(parsed.origin, undefined);
  assert.deepEqual(Object.keys(parsed), ['endpoint', 'expirationTime', 'keys']);
});

test('reads back a stored origin, and entries stored without one', () => {
  for (const origin of [
    'http://localhost:8080',
    'https://192.168.1.20:4443',
    'https://[fd00::20]:4443',
  ]) {
    assert.equal(parseShape(subscription(FCM, { origin })).origin, origin);
  }
  assert.equal('origin' in parseShape(subscription()), false);
});

test('refuses a stored origin that is not one, naming the field', () => {
  const wrong = [
    'https://192.168.1.20:4443/',
    'https://example.com/path',
    'ftp://example.com',
    'HTTPS://EXAMPLE.COM',
    'https://example.com:443',
    'localhost:8080',
    '',
    42,
    null,
  ];
  for (const origin of wrong) {
    assert.throws(
      () => parseShape(subscription(FCM, { origin })),
      /"origin" must be/,
      String(origin),
    );
  }
});
