import { ECDH } from 'node:crypto';
import { isIP } from 'node:net';
import type { HostRule } from '../config.ts';
import { HttpError } from '../errors.ts';
import {
  base64urlProblem,
  characterProblem,
  serializationProblem,
  withoutPadding,
} from './canonical.ts';
import { type DeviceFields, storedFields } from './device-fields.ts';
import { parseName } from './names.ts';

/** A browser's PushSubscription as we store it, with what we remember of its device. */
export interface Subscription extends DeviceFields {
  readonly endpoint: string;
  readonly expirationTime: number | null;
  readonly keys: { readonly p256dh: string; readonly auth: string };
}

const MAX_ENDPOINT_LENGTH = 2048;
/** Why a p256dh key cannot be encrypted to. */
export const P256_PROBLEM =
  '"keys.p256dh" must be an uncompressed point on the P-256 curve (65 bytes)';
// What earlier versions accepted (and stored, after removing the "="): still read from the file.
const LENIENT_BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * Checks a PushSubscription's shape and values: a clean copy, or 400 (shape) / 422 (value).
 * The endpoint must be on the allowlist and in canonical form, the keys canonical base64url.
 * A `name` beside them names the device (an empty one is no name); the rest is the server's.
 */
export function parseSubscription(input: unknown, rules: readonly HostRule[]): Subscription {
  const { endpoint, expirationTime, keys } = readEntry(input, canonicalKey);
  // readEntry checked that `input` is an object.
  const given = (input as { name?: unknown }).name;
  const named =
    given === undefined || given === null || given === '' ? undefined : parseName(given);
  const subscription = { endpoint, expirationTime, keys, ...(named ? { name: named } : {}) };
  const problem =
    characterProblem(endpoint) ??
    endpointProblem(endpoint, rules) ??
    serializationProblem(endpoint);
  if (problem) throw value(problem);
  // Checked here, not when the store is read: 17-35 µs per entry on every CLI start. An entry
  // edited by hand fails at send time instead, with its own reason.
  if (!isP256Point(Buffer.from(keys.p256dh, 'base64url'))) throw value(P256_PROBLEM);
  return subscription;
}

/**
 * Shape and key checks as earlier versions made them, for entries read back from our own file:
 * what was stored before the stricter rules is kept, and still sent to.
 */
export function parseShape(input: unknown): Subscription {
  const entry = readEntry(input, lenientKey);
  // Most entries of a large file have none (senders' subscriptions): no copy for them.
  const fields = storedFields(input as Record<string, unknown>);
  return fields ? { ...entry, ...fields } : entry;
}

/** Why a stored subscription would be refused if it were posted today, allowlist aside, or undefined. */
export function storedProblem({ endpoint, keys }: Subscription): string | undefined {
  return (
    characterProblem(endpoint) ??
    serializationProblem(endpoint) ??
    keyProblem(keys.p256dh, 'keys.p256dh') ??
    keyProblem(keys.auth, 'keys.auth')
  );
}

function readEntry(
  input: unknown,
  base64url: (text: string, name: string) => string,
): Subscription {
  if (!isRecord(input)) throw shape('the body must be a PushSubscription object');
  const { endpoint, expirationTime = null, keys } = input;
  if (typeof endpoint !== 'string' || endpoint === '') {
    throw shape('"endpoint" must be a non-empty string');
  }
  if (endpoint.length > MAX_ENDPOINT_LENGTH) {
    throw value(`"endpoint" is longer than ${MAX_ENDPOINT_LENGTH} characters`);
  }
  if (expirationTime !== null && !Number.isFinite(expirationTime)) {
    throw shape('"expirationTime" must be a number or null');
  }
  if (!isRecord(keys) || typeof keys.p256dh !== 'string' || typeof keys.auth !== 'string') {
    throw shape('"keys" must hold the strings "p256dh" and "auth"');
  }
  const p256dh = base64url(keys.p256dh, 'keys.p256dh');
  const auth = base64url(keys.auth, 'keys.auth');
  // RFC 8291 §3.1: the auth secret is 16 bytes.
  if (Buffer.from(auth, 'base64url').length !== 16) {
    throw value('"keys.auth" must be exactly 16 bytes');
  }
  // RFC 8291 §3.1: an uncompressed point; whether it is on the curve is left to the callers.
  const point = Buffer.from(p256dh, 'base64url');
  if (point.length !== 65 || point[0] !== 0x04) throw value(P256_PROBLEM);
  return {
    endpoint,
    expirationTime: expirationTime as number | null,
    keys: { p256dh, auth },
  };
}

/** Why an endpoint may not be pushed to, or undefined when it is on the allowlist. */
export function endpointProblem(endpoint: string, rules: readonly HostRule[]): string | undefined {
  const checked = checkEndpoint(endpoint, rules);
  return typeof checked === 'string' ? checked : undefined;
}

/** The endpoint parsed, when it is on the allowlist; else why it may not be pushed to. */
export function checkEndpoint(endpoint: string, rules: readonly HostRule[]): URL | string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return '"endpoint" is not a URL';
  }
  return urlProblem(url, rules) ?? url;
}

function urlProblem(url: URL, rules: readonly HostRule[]): string | undefined {
  if (url.protocol !== 'https:') return '"endpoint" must be an https: URL';
  if (url.username || url.password) return '"endpoint" must not contain user info';
  const bare = url.hostname.replace(/^\[|\]$/g, '');
  const ipLiteral = isIP(bare) !== 0;
  const allowed = rules.some((rule) => matches(rule, url, ipLiteral));
  if (allowed) return undefined;
  if (ipLiteral) return `"endpoint" host ${url.hostname} is an IP address, not a push service`;
  return `"endpoint" host ${url.host} is not a known push service (add it to PUSH_ALLOWED_HOSTS)`;
}

function matches(rule: HostRule, url: URL, ipLiteral: boolean): boolean {
  if (rule.port !== undefined && rule.port !== (url.port || '443')) return false;
  // IP literals pass only when an operator entry names that exact address.
  if (ipLiteral || !rule.wildcard) return url.hostname === rule.host;
  return url.hostname.endsWith(`.${rule.host}`);
}

function isP256Point(bytes: Buffer): boolean {
  if (bytes.length !== 65 || bytes[0] !== 0x04) return false;
  try {
    // OpenSSL rejects a point that is not on the curve.
    ECDH.convertKey(bytes, 'prime256v1');
    return true;
  } catch {
    return false;
  }
}

function keyProblem(text: string, name: string): string | undefined {
  const problem = base64urlProblem(text);
  return problem && `"${name}" ${problem}`;
}

/** Stored without padding. */
function canonicalKey(input: string, name: string): string {
  const problem = keyProblem(input, name);
  if (problem) throw value(problem);
  return withoutPadding(input);
}

function lenientKey(input: string, name: string): string {
  if (!LENIENT_BASE64URL.test(input)) throw value(`"${name}" must be base64url`);
  return withoutPadding(input);
}

function isRecord(input: unknown): input is Record<string, unknown> {
  return typeof input === 'object' && input !== null && !Array.isArray(input);
}

function shape(message: string): HttpError {
  return new HttpError(400, message);
}

function value(message: string): HttpError {
  return new HttpError(422, message);
}
