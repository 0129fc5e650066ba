import { createDecipheriv, createECDH, hkdfSync } from 'node:crypto';

/** Decrypts an RFC 8291 aes128gcm push body (one record) with the receiver's keys. */
export function decryptAes128gcm(
  body: Buffer,
  receiverPrivateKey: Buffer,
  receiverPublicKey: Buffer,
  authSecret: Buffer,
): Buffer {
  // RFC 8188 §2.1 header: salt(16) | rs(4) | idlen(1) | keyid; RFC 8291 §4: keyid is the sender's 65-byte key.
  if (body.length < 21) throw new Error('body shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body.readUInt8(20);
  const senderPublicKey = body.subarray(21, 21 + idlen);
  if (idlen !== 65 || senderPublicKey[0] !== 0x04)
    throw new Error('keyid is not an uncompressed P-256 key');
  const record = body.subarray(21 + idlen);
  // RFC 8291 §4: a push message is a single record, so it must fit in rs.
  if (record.length < 17 || record.length > rs)
    throw new Error(`record of ${record.length} bytes does not fit rs ${rs}`);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(receiverPrivateKey);
  const shared = ecdh.computeSecret(senderPublicKey);
  // RFC 8291 §3.4: IKM = HKDF(auth, ecdh, "WebPush: info" 0x00 ua_public as_public, 32)
  const keyInfo = Buffer.concat([
    Buffer.from('WebPush: info\0'),
    receiverPublicKey,
    senderPublicKey,
  ]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, authSecret, keyInfo, 32));
  // RFC 8188 §2.2/§2.3: content-encryption key and nonce (seq 0 for the only record).
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, 'Content-Encoding: aes128gcm\0', 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, 'Content-Encoding: nonce\0', 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(-16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, -16)), decipher.final()]);
  // RFC 8188 §2: data, then delimiter 0x02 (last record), then zero or more 0x00.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 0x02) throw new Error('missing last-record padding delimiter');
  return padded.subarray(0, end);
}
