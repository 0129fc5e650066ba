import { createCipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';

/**
 * CPU µs per message of the crypto no sender can skip (RFC 8291): an ephemeral P-256 key, ECDH
 * with the subscription's key, the HKDF steps and one AES-128-GCM record; one core, node:crypto.
 */
export function cryptoFloorUs(iterations: number, payload: string): number {
  const receiver = createECDH('prime256v1');
  const receiverKey = receiver.generateKeys();
  const auth = randomBytes(16);
  const plaintext = Buffer.concat([Buffer.from(payload), Buffer.from([2])]);
  const message = () => {
    const sender = createECDH('prime256v1');
    const senderKey = sender.generateKeys();
    const shared = sender.computeSecret(receiverKey);
    const salt = randomBytes(16);
    const info = Buffer.concat([Buffer.from('WebPush: info\0'), receiverKey, senderKey]);
    const ikm = Buffer.from(hkdfSync('sha256', shared, auth, info, 32));
    const key = Buffer.from(hkdfSync('sha256', ikm, salt, 'Content-Encoding: aes128gcm\0', 16));
    const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, 'Content-Encoding: nonce\0', 12));
    const cipher = createCipheriv('aes-128-gcm', key, nonce);
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  };
  for (let i = 0; i < Math.min(200, iterations); i++) message();
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) message();
  const { user, system } = process.cpuUsage(start);
  return (user + system) / iterations;
}
