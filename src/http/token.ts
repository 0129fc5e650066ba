import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { readIfExists, writeFileAtomic } from '../store/file/files.ts';

/** The send API's bearer token: SEND_TOKEN, else the send-token file, else undefined (API off). */
export async function loadSendToken(config: Config): Promise<string | undefined> {
  if (config.sendToken) return config.sendToken;
  const token = (await readIfExists(config.sendTokenFile))?.trim();
  if (token === '')
    throw new ConfigError(`${config.sendTokenFile} is empty; run npm run token -- --force`);
  return token;
}

/** Makes a random 32-byte token and saves it with mode 0600. */
export async function createSendToken(file: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await writeFileAtomic(file, `${token}\n`, 0o600);
  return token;
}

/** Compares in constant time (hashing first makes the lengths equal too). */
export function tokenMatches(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of `Authorization: Bearer <token>`, or undefined when the header is not that. */
export function bearerOf(req: IncomingMessage): string | undefined {
  // RFC 6750 §2.1: "Bearer" 1*SP token, nothing after it; the scheme is case-insensitive.
  return /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
}
