import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';

/** A request as node:http or node:http2's compatibility API hands it over. */
type PushRequest = IncomingMessage | Http2ServerRequest;

import { decryptAes128gcm } from './aes128gcm.ts';

/** Verified RFC 8292 JWT claims. */
export interface VapidClaims {
  aud: string;
  exp: number;
  sub: string;
}

/** A subscription's receiving keys (RFC 8291 §2): P-256 key pair and 16-byte auth secret. */
export interface ReceiverKeys {
  privateKey: Buffer;
  publicKey: Buffer;
  auth: Buffer;
}

/** What a valid push request carried, once verified and decrypted. */
export interface PushMessage {
  payload: string;
  ttl: number;
  urgency?: string;
  topic?: string;
  claims: VapidClaims;
  vapidPublicKey: string;
  authorization: string;
}

/** A push request refused with this HTTP status. */
export class PushRefusal extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const BODY_LIMIT = 8192;
const URGENCIES = ['very-low', 'low', 'normal', 'high'];
const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
const prop = (o: unknown, key: string): unknown =>
  typeof o === 'object' && o !== null ? Reflect.get(o, key) : undefined;
// Node already joins repeated custom headers with ", "; only set-cookie arrives as an array.
const header = (req: PushRequest, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};
function refuse(status: number, message: string): never {
  throw new PushRefusal(status, message);
}

/** A push request whose headers and VAPID JWT passed, its body still encrypted. */
export interface CheckedPush extends Omit<PushMessage, 'payload'> {
  body: Buffer;
}

/**
 * Checks an RFC 8030 push request's headers and VAPID JWT (its `aud` must be `origin`) and reads
 * its body, without decrypting it: what every push service checks before it accepts a message.
 */
export async function checkPush(req: PushRequest, origin: string): Promise<CheckedPush> {
  if (req.method !== 'POST') refuse(405, 'push messages are POSTed (RFC 8030 §5)');
  const ttl = header(req, 'ttl') ?? '';
  if (!/^\d+$/.test(ttl)) refuse(400, 'TTL header missing or not an integer (RFC 8030 §5.2)');
  const urgency = header(req, 'urgency');
  if (urgency !== undefined && !URGENCIES.includes(urgency))
    refuse(400, `bad Urgency ${urgency} (RFC 8030 §5.3)`);
  const topic = header(req, 'topic');
  if (topic !== undefined && !/^[\w-]{1,32}$/.test(topic))
    refuse(400, 'Topic is not 1-32 base64url characters (RFC 8030 §5.4)');
  const authorization = header(req, 'authorization') ?? '';
  const { claims, k } = verifyVapid(authorization, origin);
  const body = await readBody(req);
  if (body.length > 0 && header(req, 'content-encoding') !== 'aes128gcm')
    refuse(400, 'Content-Encoding is not aes128gcm (RFC 8291 §4)');
  const optional = {
    ...(urgency === undefined ? {} : { urgency }),
    ...(topic === undefined ? {} : { topic }),
  };
  return { body, ttl: Number(ttl), ...optional, claims, vapidPublicKey: k, authorization };
}

/** Checks an RFC 8030 push request's headers, VAPID and body, and decrypts it for `keys`. */
export async function readPush(
  req: PushRequest,
  origin: string,
  keys: ReceiverKeys,
): Promise<PushMessage> {
  const { body, ...checked } = await checkPush(req, origin);
  let payload = '';
  try {
    if (body.length > 0)
      payload = decryptAes128gcm(body, keys.privateKey, keys.publicKey, keys.auth).toString('utf8');
  } catch (error) {
    refuse(400, `cannot decrypt: ${messageOf(error)}`);
  }
  return { payload, ...checked };
}

async function readBody(req: PushRequest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size <= BODY_LIMIT) chunks.push(chunk); // keep draining past the limit so keep-alive survives
  }
  if (size > BODY_LIMIT) refuse(413, `body of ${size} bytes is over ${BODY_LIMIT}`);
  return Buffer.concat(chunks);
}

/** Checks an RFC 8292 §3 `vapid t=<jwt>, k=<key>` header; 401 on any failure, 403 for a wrong aud. */
function verifyVapid(authorization: string, origin: string): { claims: VapidClaims; k: string } {
  const match = /^vapid\s+(.+)$/i.exec(authorization);
  const params = new Map(
    (match?.[1] ?? '').split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()];
    }),
  );
  const t = params.get('t') ?? '';
  const k = params.get('k') ?? '';
  if (!match || !t || !k) refuse(401, 'Authorization is not "vapid t=..., k=..." (RFC 8292 §3)');
  const key = Buffer.from(k, 'base64url');
  if (key.length !== 65 || key[0] !== 0x04)
    refuse(401, 'k is not a 65-byte uncompressed P-256 key');
  const [h = '', p = '', s = '', ...extra] = t.split('.');
  let jwtHeader: unknown, claims: unknown, publicKey: KeyObject;
  try {
    jwtHeader = JSON.parse(Buffer.from(h, 'base64url').toString());
    claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const [x, y] = [key.subarray(1, 33), key.subarray(33)].map((c) => c.toString('base64url'));
    publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  } catch (error) {
    refuse(401, `unreadable JWT or key: ${messageOf(error)}`);
  }
  if (extra.length > 0 || prop(jwtHeader, 'alg') !== 'ES256')
    refuse(401, 't is not an ES256 JWT (RFC 8292 §2)');
  // JWS ES256 signatures are raw r||s (RFC 7518 §3.4), not DER.
  const signature = Buffer.from(s, 'base64url');
  const signed = Buffer.from(`${h}.${p}`);
  if (
    signature.length !== 64 ||
    !verify('sha256', signed, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)
  ) {
    refuse(401, 'JWT signature does not match k');
  }
  const aud = prop(claims, 'aud');
  const exp = prop(claims, 'exp');
  const sub = prop(claims, 'sub');
  const now = Date.now() / 1000;
  if (typeof aud !== 'string' || aud !== origin)
    refuse(403, `aud ${String(aud)} is not ${origin} (RFC 8292 §2)`);
  if (typeof exp !== 'number' || exp <= now) refuse(401, 'JWT exp is missing or in the past');
  if (exp > now + 86400) refuse(401, 'JWT exp is more than 24 hours ahead (RFC 8292 §2)');
  if (typeof sub !== 'string' || !/^(mailto|https):/.test(sub))
    refuse(401, 'sub is not a mailto: or https: URI');
  return { claims: { aud, exp, sub }, k };
}
