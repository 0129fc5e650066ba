// RFC 8291 aes128gcm bodies with Node's crypto, for the main thread and the encryption workers
// alike. The same steps as web-push's helper (http_ece), with less around them: one ECDH object
// per encryptor that makes a fresh key pair for every message, HKDF as the five HMACs it comes to
// (hkdfSync sets up a KDF context per call: about 3x the CPU here), and the body written once
// (docs/performance.md). test/push/encrypt.test.ts checks it against RFC 8291's Appendix A.
import { createCipheriv, createECDH, createHmac, type ECDH, randomFillSync } from 'node:crypto';
import { P256_PROBLEM } from '../store/subscription.ts';

// RFC 8188 §2.1: salt (16) | record size (4) | key id length (1) | key id: the sender's key (65).
const SALT = 16;
const KEY = 65;
const HEADER = SALT + 4 + 1 + KEY;
const TAG = 16;
// RFC 8291 §4: one record of 4096 bytes at most, so the plaintext limit (notification.ts).
const RECORD_SIZE = 4096;
// RFC 8291 §3.4 and RFC 8188 §2.2-2.3: the HKDF infos, each followed by the counter byte 1 of the
// only HKDF-Expand block needed (every output is 32 bytes or shorter).
const WEBPUSH_INFO = Buffer.from('WebPush: info\0');
const ONE = Buffer.from([1]);
const CEK_INFO = Buffer.from('Content-Encoding: aes128gcm\0\x01');
const NONCE_INFO = Buffer.from('Content-Encoding: nonce\0\x01');
// RFC 8188 §2: the last (here the only) record ends with the delimiter 2, without padding.
const LAST_RECORD = Buffer.from([2]);

/** Encrypts a payload to one subscription's keys; throws when the keys cannot be used. */
export type Encrypt = (payload: Buffer, p256dh: string, auth: string) => Buffer;

/** Why these keys cannot be encrypted to. */
class KeyError extends Error {
  override name = 'KeyError';
}

/** An encryptor for one thread: every message gets a new ephemeral key pair and salt. */
export function createEncryptor(): Encrypt {
  const ephemeral = createECDH('prime256v1');
  return (payload, p256dh, auth) => {
    const receiver = Buffer.from(p256dh, 'base64url');
    const secret = Buffer.from(auth, 'base64url');
    if (receiver.length !== KEY) throw new KeyError(P256_PROBLEM);
    // RFC 8291 §3.1 asks for 16 bytes; longer ones were always accepted (web-push).
    if (secret.length < 16) throw new KeyError('"keys.auth" must be at least 16 bytes');
    // A new private key and its public key, every call (OpenSSL's EC_KEY_generate_key).
    const senderKey = ephemeral.generateKeys();
    const salt = randomFillSync(Buffer.allocUnsafe(SALT));
    return encryptWith(payload, receiver, secret, { ecdh: ephemeral, key: senderKey }, salt);
  };
}

/**
 * The body for one message, from the sender's key pair (its public key as generateKeys() returned
 * it: asking the ECDH again costs a point conversion) and salt, fixed only by the RFC test.
 */
export function encryptWith(
  payload: Buffer,
  receiver: Buffer,
  auth: Buffer,
  sender: { ecdh: ECDH; key: Buffer },
  salt: Buffer,
): Buffer {
  const { ecdh, key: senderKey } = sender;
  const shared = ecdh.computeSecret(receiver);
  // RFC 8291 §3.4: IKM = HKDF(auth, ECDH secret, "WebPush: info" 0 ua_public as_public, 32).
  const ikm = createHmac('sha256', hmac(auth, shared))
    .update(WEBPUSH_INFO)
    .update(receiver)
    .update(senderKey)
    .update(ONE)
    .digest();
  // RFC 8188 §2.2-2.3: PRK = HMAC(salt, IKM); the key (16 bytes) and nonce (12) expand from it.
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, CEK_INFO).subarray(0, 16);
  const nonce = hmac(prk, NONCE_INFO).subarray(0, 12);
  const body = Buffer.allocUnsafe(HEADER + payload.length + LAST_RECORD.length + TAG);
  salt.copy(body, 0);
  body.writeUInt32BE(RECORD_SIZE, SALT);
  body.writeUInt8(KEY, SALT + 4);
  senderKey.copy(body, SALT + 5);
  const cipher = createCipheriv('aes-128-gcm', cek, nonce);
  let end = HEADER + cipher.update(payload).copy(body, HEADER);
  end += cipher.update(LAST_RECORD).copy(body, end);
  end += cipher.final().copy(body, end);
  cipher.getAuthTag().copy(body, end);
  return body;
}

const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();

/** The body for one subscription, or why its keys could not be encrypted to (for the report). */
export function bodyOrReason(encrypt: Encrypt, payload: Buffer, p256dh: string, auth: string) {
  try {
    return encrypt(payload, p256dh, auth);
  } catch (error) {
    return encryptionProblem(error);
  }
}

function encryptionProblem(error: unknown): string {
  // Stored keys are checked for the curve only when posted: a hand-edited file ends up here.
  if ((error as { code?: string }).code === 'ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY') {
    return P256_PROBLEM;
  }
  if (error instanceof KeyError) return error.message;
  return `could not encrypt: ${(error as Error).message ?? String(error)}`;
}
