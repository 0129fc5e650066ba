import assert from 'node:assert/strict';
import { createECDH, type ECDH, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { bodyOrReason, createEncryptor, encryptWith } from '../../src/push/encrypt.ts';
import { P256_PROBLEM } from '../../src/store/subscription.ts';
import { decryptAes128gcm } from '../support/aes128gcm.ts';
import { RFC8291 } from '../support/rfc8291.ts';

// http_ece (web-push's own dependency) ships no types: the one call used here.
const ece = createRequire(import.meta.url)('http_ece') as {
  decrypt(body: Buffer, params: { version: string; privateKey: ECDH; authSecret: Buffer }): Buffer;
};
const b64 = (text: string) => Buffer.from(text, 'base64url');
const payload = Buffer.from('{"title":"Test","body":"encrypted here"}');

/** A browser's side of a subscription: its key pair and auth secret. */
function receiver() {
  const ecdh = createECDH('prime256v1');
  const publicKey = ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    privateKey: ecdh.getPrivateKey(),
    publicKey,
    auth,
    p256dh: publicKey.toString('base64url'),
    authText: auth.toString('base64url'),
  };
}

test('makes the RFC 8291 Appendix A body from its sender key and salt, byte for byte', () => {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(b64(RFC8291.asPrivate));
  const key = ecdh.getPublicKey();
  assert.equal(key.toString('base64url'), RFC8291.asPublic, 'the vector is self-consistent');
  const body = encryptWith(
    Buffer.from(RFC8291.plaintext),
    b64(RFC8291.uaPublic),
    b64(RFC8291.authSecret),
    { ecdh, key },
    b64(RFC8291.salt),
  );
  assert.equal(body.toString('base64url'), RFC8291.body);
});

test('gives every message a new sender key and salt, and each decrypts', () => {
  const to = receiver();
  const encrypt = createEncryptor();
  const bodies = Array.from({ length: 3 }, () => encrypt(payload, to.p256dh, to.authText));
  const salts = new Set(bodies.map((body) => body.subarray(0, 16).toString('hex')));
  const senderKeys = new Set(bodies.map((body) => body.subarray(21, 86).toString('hex')));
  assert.equal(salts.size, 3);
  assert.equal(senderKeys.size, 3);
  for (const body of bodies) {
    assert.equal(body.readUInt32BE(16), 4096, 'RFC 8291 §4: rs 4096');
    const plain = decryptAes128gcm(body, to.privateKey, to.publicKey, to.auth);
    assert.equal(plain.toString(), payload.toString());
    // A second, independent implementation (http_ece, which web-push uses) agrees.
    const decrypted = ece.decrypt(body, {
      version: 'aes128gcm',
      privateKey: ecdhOf(to.privateKey),
      authSecret: to.auth,
    });
    assert.equal(decrypted.toString(), payload.toString());
  }
});

function ecdhOf(privateKey: Buffer) {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(privateKey);
  return ecdh;
}

test('refuses keys it cannot encrypt to, each with its reason', () => {
  const to = receiver();
  const encrypt = createEncryptor();
  const reason = (p256dh: string, auth = to.authText) => {
    const body = bodyOrReason(encrypt, payload, p256dh, auth);
    return typeof body === 'string' ? body : 'encrypted';
  };
  const offCurve = Buffer.from(to.publicKey);
  offCurve[64] = (offCurve[64] as number) ^ 1;
  assert.equal(reason(offCurve.toString('base64url')), P256_PROBLEM);
  assert.equal(reason(to.publicKey.subarray(0, 33).toString('base64url')), P256_PROBLEM);
  assert.equal(
    reason(to.p256dh, randomBytes(15).toString('base64url')),
    '"keys.auth" must be at least 16 bytes',
  );
  assert.equal(reason(to.p256dh), 'encrypted');
});
