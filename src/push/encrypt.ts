// RFC 8291 aes128gcm bodies, encrypted by web-push's own helper (the one generateRequestDetails
// calls), for the main thread and the encryption workers alike.
import { createRequire } from 'node:module';
import { P256_PROBLEM } from '../store/subscription.ts';

type Encrypt = (
  p256dh: string,
  auth: string,
  payload: Buffer,
  encoding: 'aes128gcm',
) => { cipherText: Buffer };

const { encrypt } = createRequire(import.meta.url)('web-push/src/encryption-helper.js') as {
  encrypt: Encrypt;
};

/** The request body for one subscription: salt, record size, sender key and the one record. */
export function encryptBody(payload: Buffer, p256dh: string, auth: string): Buffer {
  return encrypt(p256dh, auth, payload, 'aes128gcm').cipherText;
}

/** Why a subscription's keys could not be encrypted to, for the report. */
export function encryptionProblem(error: unknown): string {
  // Stored keys are checked for the curve only when posted: a hand-edited file ends up here.
  if ((error as { code?: string }).code === 'ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY') {
    return P256_PROBLEM;
  }
  return `could not encrypt: ${(error as Error).message ?? String(error)}`;
}
