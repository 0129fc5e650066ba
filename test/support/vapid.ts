import { createPublicKey, type KeyObject, verify } from 'node:crypto';

/** Verified RFC 8292 JWT claims. */
export interface VapidClaims {
  aud: string;
  exp: number;
  sub: string;
}

/** A VAPID check that failed, with the status a push service answers (401, or 403 for a wrong aud). */
export class VapidError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

const b64url = (b: Buffer): string => b.toString('base64url');
const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
const prop = (o: unknown, key: string): unknown =>
  typeof o === 'object' && o !== null ? Reflect.get(o, key) : undefined;

/** Checks an RFC 8292 `vapid t=<jwt>, k=<key>` header and returns the verified claims. */
export function verifyVapid(
  authorization: string | undefined,
  origin: string,
): { claims: VapidClaims; k: string } {
  const match = /^vapid\s+(.+)$/i.exec(authorization ?? '');
  if (!match) throw new VapidError(401, 'Authorization is not a vapid header (RFC 8292 §3)');
  const params = new Map(
    (match[1] ?? '').split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const t = params.get('t') ?? '';
  const k = params.get('k') ?? '';
  const key = Buffer.from(k, 'base64url');
  if (key.length !== 65 || key[0] !== 0x04)
    throw new VapidError(401, 'k is not a 65-byte uncompressed P-256 key');
  const [h, p, s, extra] = t.split('.');
  if (!h || !p || !s || extra !== undefined) throw new VapidError(401, 't is not a JWT');
  let header: unknown, claims: unknown, publicKey: KeyObject;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString());
    claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const jwk = {
      kty: 'EC',
      crv: 'P-256',
      x: b64url(key.subarray(1, 33)),
      y: b64url(key.subarray(33)),
    };
    publicKey = createPublicKey({ key: jwk, format: 'jwk' });
  } catch (error) {
    throw new VapidError(401, `unreadable JWT or key: ${messageOf(error)}`);
  }
  if (prop(header, 'alg') !== 'ES256')
    throw new VapidError(401, 'JWT alg is not ES256 (RFC 8292 §2)');
  // JWS ES256 signatures are raw r||s (RFC 7518 §3.4), not DER.
  const signature = Buffer.from(s, 'base64url');
  if (
    signature.length !== 64 ||
    !verify(
      'sha256',
      Buffer.from(`${h}.${p}`),
      { key: publicKey, dsaEncoding: 'ieee-p1363' },
      signature,
    )
  ) {
    throw new VapidError(401, 'JWT signature does not match k');
  }
  const aud = prop(claims, 'aud');
  const exp = prop(claims, 'exp');
  const sub = prop(claims, 'sub');
  if (aud !== origin)
    throw new VapidError(403, `aud ${String(aud)} is not ${origin} (RFC 8292 §2)`);
  const now = Date.now() / 1000;
  if (typeof exp !== 'number' || exp <= now)
    throw new VapidError(401, 'JWT exp is missing or in the past');
  if (exp > now + 86400)
    throw new VapidError(401, 'JWT exp is more than 24 hours ahead (RFC 8292 §2)');
  if (typeof sub !== 'string' || !/^(mailto|https):/.test(sub))
    throw new VapidError(401, 'sub is not a mailto: or https: URI');
  return { claims: { aud, exp, sub }, k };
}
