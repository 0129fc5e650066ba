// Seeded generators of hostile input for the fuzz tests: the same seed gives the same cases.
import { createECDH } from 'node:crypto';

/** A PRNG returning floats in [0, 1). */
export type Rng = () => number;

/** mulberry32: a tiny, fast 32-bit PRNG, good enough to pick test cases reproducibly. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The generator for case `index` of a run: each case can be replayed alone. */
export const caseRng = (seed: number, index: number): Rng =>
  mulberry32(seed ^ Math.imul(index + 1, 0x9e3779b9));

export const int = (r: Rng, n: number): number => Math.floor(r() * n);
export const pick = <T>(r: Rng, items: readonly T[]): T => items[int(r, items.length)] as T;
export const bytes = (r: Rng, n: number): Buffer =>
  Buffer.from(Array.from({ length: n }, () => int(r, 256)));

/** Valid subscription keys (a P-256 point and a 16-byte auth secret), derived from the seed. */
export function validKeys(r: Rng): { p256dh: string; auth: string } {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.concat([Buffer.from([1]), bytes(r, 31)]));
  return {
    p256dh: ecdh.getPublicKey().toString('base64url'),
    auth: bytes(r, 16).toString('base64url'),
  };
}

/** Real endpoints on the default push services: accepted as they are. */
export function allowedEndpoints(r: Rng): string[] {
  const token = bytes(r, 24).toString('base64url');
  return [
    `https://fcm.googleapis.com/fcm/send/${token}`,
    `https://updates.push.services.mozilla.com/wpush/v2/${token}`,
    `https://web.push.apple.com/${token}`,
    `https://wns2-par02p.notify.windows.com/w/?token=${token}`,
  ];
}

/** Whitespace-separated words: long lists of hosts stay readable. */
const words = (text: string): string[] => text.trim().split(/\s+/);

/** Loopback in every notation WHATWG URL accepts, and other places an SSRF likes to reach. */
const LOOPBACK = words(`
  127.0.0.1 127.1 127.0.1 127.000.000.001 2130706433 0x7f000001 0x7f.0.0.1 0x7f.1
  0177.0.0.1 0177.0000.0000.0001 017700000001 localhost LOCALHOST localhost. 127.0.0.1.
  [::1] [0::1] [0:0:0:0:0:0:0:1] [::ffff:127.0.0.1] [::ffff:7f00:1]
  [0:0:0:0:0:ffff:7f00:1] [::127.0.0.1] [::] 0 0.0.0.0
`);
const ELSEWHERE = words(`
  169.254.169.254 0xa9fea9fe [fd00:ec2::254] 100.100.100.200 10.0.0.1 192.168.1.1
  [fe80::1] metadata.google.internal evil.com
`);
/** Names that look like a push service and are not one. */
const LOOK_ALIKES = words(`
  fcm.googleapis.com.evil.com fcm.googleapis.com. fcm.googleapis.com..
  x.fcm.googleapis.com fcm-googleapis.com fcmgoogleapis.com fcm.googleapis.co
  fcm.googIeapis.com f\u0441m.googleapis.com xn--fcm-googleapis-com.evil.com
  xn--fm-omc.googleapis.com googleapis.com push.apple.com evilpush.apple.com
  push.apple.com.evil.com a.push.apple.com.evil.com notify.windows.com
  x.notify.windows.com. mozilla.com updates.push.services.mozilla.com.evil.com
  updates.push.services.mozilla.co fcm.googleapis.com\u3002evil.com
  fcm.googleapis.com%2eevil.com evil\u3002com
`);
const ODD_PORTS = ['80', '22', '0', '444', '8443', '65535'] as const;
const OTHER_SCHEMES = words(`
  http: ftp: ws: wss: file: gopher: httpss: https+x: chrome:
`);

/**
 * Endpoints aimed at hosts that are not push services: `decoyPort` is a local listener standing
 * in for "some other host". Every one must be refused.
 */
export function hostileEndpoints(decoyPort: number): string[] {
  const path = '/push/abc';
  const fcm = 'fcm.googleapis.com';
  return [
    ...LOOPBACK.flatMap((host) => [
      `https://${host}:${decoyPort}${path}`,
      `https://${host}${path}`,
    ]),
    ...ELSEWHERE.flatMap((host) => [
      `https://${host}${path}`,
      `https://${host}:${decoyPort}${path}`,
    ]),
    ...LOOK_ALIKES.map((host) => `https://${host}${path}`),
    ...ODD_PORTS.map((port) => `https://${fcm}:${port}${path}`),
    ...OTHER_SCHEMES.map((scheme) => `${scheme}//${fcm}${path}`),
    `https://evil.com#${fcm}`,
    `https://evil.com?x=${fcm}`,
    `https://evil.com/${fcm}`,
    `https://${fcm}@evil.com/`,
    `https://${fcm}:443@evil.com/`,
    `https://user:pass@${fcm}${path}`,
    `https://user@${fcm}${path}`,
    `https://evil.com\\@${fcm}${path}`,
    `https://evil.com\\${fcm}`,
    'https:\\\\evil.com\\push',
    'https:/evil.com/push',
    'https:evil.com/push',
    ` https://evil.com${path}`,
    `https://evil.com\t${path}`,
    `https://evil.com:443#@${fcm}`,
    `https://${fcm}\u202e.evil.com${path}`,
    `https://${fcm}%00.evil.com${path}`,
    `https://[::ffff:${fcm}]${path}`,
    `//${fcm}${path}`,
    `${fcm}${path}`,
    `data:text/plain,${fcm}`,
    `javascript:alert(1)//${fcm}`,
    `blob:https://${fcm}/x`,
    `https://${'a.'.repeat(1100)}${fcm}${path}`,
  ];
}

const SPECIALS = [
  '@',
  ':',
  '/',
  '\\',
  '.',
  '#',
  '?',
  '%',
  '%2e',
  '%40',
  '%2f',
  '[',
  ']',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u0000',
  '\u0007',
  '\u001b[31m',
  '\u202e',
  '\u2066',
  '\u200b',
  '\u200f',
  '\ufeff',
  '\ud800',
  '\uff0e',
  '\u3002',
  '\u017f',
  '\u212a',
  'xn--',
  '..',
  '0x',
  ':80',
  ':0443',
  '@evil.com',
  '.evil.com',
  'evil.com',
  '\u00e9',
  '\ud83d\ude00',
] as const;

/** An allowed endpoint with a few random edits: accepted only when it still names a push service. */
export function mutatedEndpoint(r: Rng, base: string): string {
  let text = base;
  for (let edits = 1 + int(r, 4); edits > 0; edits--) {
    const at = int(r, text.length + 1);
    const kind = int(r, 3);
    if (kind === 0) text = text.slice(0, at) + pick(r, SPECIALS) + text.slice(at);
    else if (kind === 1) text = text.slice(0, at) + text.slice(at + 1 + int(r, 8));
    else text = text.slice(0, at) + pick(r, SPECIALS) + text.slice(at + 1);
  }
  return text;
}

const range = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));
/** Every control (C0, DEL, C1), bidi control and whitespace character: none belongs in an endpoint. */
export const UNSAFE_CHARACTERS: readonly string[] = [
  ...range(0x00, 0x1f),
  '\u007f',
  ...range(0x80, 0x9f),
  '\u200e',
  '\u200f',
  ...range(0x202a, 0x202e),
  ...range(0x2066, 0x2069),
  ' ',
  '\u00a0',
  '\u1680',
  ...range(0x2000, 0x200a),
  '\u2028',
  '\u2029',
  '\u202f',
  '\u205f',
  '\u3000',
  '\ufeff',
];

/** An allowed endpoint with one to three unsafe characters put in anywhere: always refused. */
export function uncleanEndpoint(r: Rng, base: string): string {
  let text = base;
  for (let n = 1 + int(r, 3); n > 0; n--) {
    const at = int(r, text.length + 1);
    text = text.slice(0, at) + pick(r, UNSAFE_CHARACTERS) + text.slice(at);
  }
  return text;
}

/** An allowed endpoint spelled so that a URL parser writes it differently: always refused. */
export function respelledEndpoint(r: Rng, base: string): string {
  const path = base.indexOf('/', 'https://'.length);
  switch (int(r, 5)) {
    case 0:
      return `H${base.slice(1)}`;
    case 1:
      return `${base.slice(0, path)}/.${base.slice(path)}`;
    case 2:
      return `${base.slice(0, path)}/x/..${base.slice(path)}`;
    case 3:
      return `${base.slice(0, path)}\\${base.slice(path + 1)}`;
    default:
      return `${base.slice(0, path)}/${pick(r, ['\u00e9', '\u200b', '"', '<', '{', '\ud83d\ude00'])}${base.slice(path)}`;
  }
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A base64url key with a bit set past its last whole byte: it decodes to the same bytes, but
 * encoding those again gives the canonical text, not this one.
 */
export function withStrayBits(key: string): string {
  const last = BASE64URL_ALPHABET.indexOf(key.at(-1) as string);
  return key.slice(0, -1) + BASE64URL_ALPHABET[last | 1];
}

/** Valid keys written in a form that is not canonical: wrong padding or stray bits. */
export function uncanonicalKeys(r: Rng, good: { p256dh: string; auth: string }): unknown {
  const name = pick(r, ['p256dh', 'auth'] as const);
  const key = good[name];
  // Canonical padding is one "=" for p256dh (65 bytes) and two for auth (16 bytes).
  const wrongPadding = name === 'p256dh' ? pick(r, ['==', '===']) : pick(r, ['=', '===']);
  return { ...good, [name]: r() < 0.5 ? key + wrongPadding : withStrayBits(key) };
}

/**
 * Subscriptions as an earlier version could store them: the same push-service address and keys,
 * written in forms the stricter checks refuse (a tab, a "." segment, stray key bits).
 */
export function storedByEarlierVersion<
  T extends { endpoint: string; keys: { p256dh: string; auth: string } },
>(subscriptions: readonly T[]): T[] {
  return subscriptions.map((subscription, index) => {
    const { endpoint, keys } = subscription;
    const cut = endpoint.lastIndexOf('/');
    switch (index % 3) {
      case 0:
        return {
          ...subscription,
          endpoint: `${endpoint.slice(0, cut)}/\t${endpoint.slice(cut + 1)}`,
        };
      case 1:
        return { ...subscription, endpoint: `${endpoint.slice(0, cut)}/.${endpoint.slice(cut)}` };
      default:
        return {
          ...subscription,
          keys: { p256dh: withStrayBits(keys.p256dh), auth: withStrayBits(keys.auth) },
        };
    }
  });
}

/** A string of a random kind: empty, huge, control and bidi characters, lone surrogates. */
export function nastyString(r: Rng): string {
  switch (int(r, 6)) {
    case 0:
      return '';
    case 1:
      return pick(r, SPECIALS).repeat(1 + int(r, 5000));
    case 2:
      return 'A'.repeat(int(r, 100_000));
    case 3:
      return bytes(r, int(r, 100)).toString('latin1');
    case 4:
      return Array.from({ length: int(r, 40) }, () => pick(r, SPECIALS)).join('');
    default:
      return bytes(r, int(r, 120)).toString('base64url');
  }
}

/** Any JSON-ish value of the wrong type, nested up to `depth`. */
export function wrongValue(r: Rng, depth = 3): unknown {
  switch (int(r, depth > 0 ? 11 : 8)) {
    case 0:
      return null;
    case 1:
      return pick(r, [true, false]);
    case 2:
      return pick(r, [0, -1, 1.5, -0, 1e308, Number.MAX_SAFE_INTEGER + 2]);
    case 3:
      return pick(r, [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    case 4:
      return nastyString(r);
    case 5:
      return undefined;
    case 6:
      return deeplyNested(r, 1 + int(r, 50_000));
    case 7:
      return pick(r, [10n, Symbol('x'), () => 1, new Date(0), /x/]);
    case 8:
      return Array.from({ length: int(r, 4) }, () => wrongValue(r, depth - 1));
    default:
      return Object.fromEntries(
        Array.from({ length: int(r, 4) }, () => [
          nastyString(r).slice(0, 20),
          wrongValue(r, depth - 1),
        ]),
      );
  }
}

/** `[[[...]]]` or `{"a":{"a":...}}`, built without recursion. */
export function deeplyNested(r: Rng, depth: number): unknown {
  const asArray = r() < 0.5;
  let value: unknown = asArray ? [] : {};
  for (let i = 0; i < depth; i++) value = asArray ? [value] : { a: value };
  return value;
}

/** Keys that try to reach Object.prototype through JSON.parse or a careless merge. */
export const POLLUTION_JSON = [
  '{"__proto__": {"polluted": "yes"}}',
  '{"constructor": {"prototype": {"polluted": "yes"}}}',
  '{"__proto__": {"__proto__": {"polluted": "yes"}}}',
  '{"prototype": {"polluted": "yes"}}',
  '{"toString": "x", "hasOwnProperty": "x", "valueOf": {"polluted": "yes"}}',
] as const;

/** Keys of a random kind: valid, padded, standard base64, compressed, off the curve, wrong sizes or types. */
function keysVariant(r: Rng, good: { p256dh: string; auth: string }): unknown {
  const point = Buffer.from(good.p256dh, 'base64url');
  switch (int(r, 11)) {
    case 0:
      return good;
    case 1:
      return { ...good, p256dh: `${good.p256dh}=` };
    case 2:
      return { ...good, p256dh: point.toString('base64') };
    case 3:
      return {
        ...good,
        p256dh: Buffer.concat([Buffer.from([2]), point.subarray(1, 33)]).toString('base64url'),
      };
    case 4:
      return {
        ...good,
        p256dh: Buffer.concat([Buffer.from([4]), bytes(r, 64)]).toString('base64url'),
      };
    case 5:
      return { ...good, auth: bytes(r, pick(r, [0, 1, 15, 17, 32, 6000])).toString('base64url') };
    case 6:
      return { ...good, p256dh: nastyString(r) };
    case 7:
      return { ...good, auth: wrongValue(r) };
    case 8:
      return r() < 0.5 ? { p256dh: good.p256dh } : { auth: good.auth };
    case 9:
      return JSON.parse(`{"__proto__": ${JSON.stringify(good)}}`);
    default:
      return wrongValue(r);
  }
}

export type Intent = 'valid' | 'refuse' | 'any';

/**
 * Something shaped more or less like a PushSubscription. 'refuse' cases have valid keys and an
 * endpoint aimed elsewhere or not in canonical form, or keys not in canonical form; 'valid' ones
 * are real; the rest are anything.
 */
export function subscriptionLike(
  r: Rng,
  allowed: readonly string[],
  hostile: readonly string[],
): { value: unknown; intent: Intent } {
  const keys = validKeys(r);
  const endpoint = pick(r, allowed);
  const roll = r();
  if (roll < 0.2) return { value: { endpoint: pick(r, hostile), keys }, intent: 'refuse' };
  if (roll < 0.25) return { value: { endpoint, expirationTime: null, keys }, intent: 'valid' };
  if (roll < 0.35)
    return { value: { endpoint: mutatedEndpoint(r, endpoint), keys }, intent: 'any' };
  if (roll < 0.45) {
    // Real endpoints with control, bidi or whitespace characters, respelled, or with keys not
    // in canonical form: each must be refused with 422.
    const kind = int(r, 3);
    if (kind === 2)
      return { value: { endpoint, keys: uncanonicalKeys(r, keys) }, intent: 'refuse' };
    const unclean = kind === 0 ? uncleanEndpoint(r, endpoint) : respelledEndpoint(r, endpoint);
    return { value: { endpoint: unclean, keys }, intent: 'refuse' };
  }
  if (roll < 0.65) {
    return { value: { endpoint, expirationTime: null, keys: keysVariant(r, keys) }, intent: 'any' };
  }
  if (roll < 0.75) {
    const value: Record<string, unknown> = { endpoint, expirationTime: null, keys };
    value[pick(r, ['endpoint', 'expirationTime', 'keys'])] = wrongValue(r);
    return { value, intent: 'any' };
  }
  if (roll < 0.85) {
    // Prototype-pollution keys beside (or instead of) real fields, as JSON.parse would make them.
    const text = JSON.stringify({ endpoint, keys });
    const extra = pick(r, POLLUTION_JSON).slice(1, -1);
    const value = JSON.parse(r() < 0.5 ? `{${extra}, ${text.slice(1)}` : `{${extra}}`);
    return { value, intent: 'any' };
  }
  if (roll < 0.9) {
    const junk = Object.fromEntries(
      Array.from({ length: 1 + int(r, 5) }, () => [nastyString(r).slice(0, 30), wrongValue(r)]),
    );
    return { value: { ...junk, endpoint, keys }, intent: 'any' };
  }
  return { value: wrongValue(r), intent: 'any' };
}
