import { createPrivateKey, X509Certificate } from 'node:crypto';
import { ConfigError } from '../errors.ts';

/** A PEM certificate, parsed; anything else is a ConfigError with `message`. */
export function parseCertificate(pem: string, message: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new ConfigError(message);
  }
}

/**
 * Whether `key` (PEM) is the private key of `cert`. Checked at start: a broken or foreign key
 * would otherwise fail later inside OpenSSL, with a stack trace.
 */
export function keyMatches(cert: X509Certificate, key: string): boolean {
  try {
    return cert.checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

/** The date part of a time, for output lines. */
export function day(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}
