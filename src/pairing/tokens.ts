import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, rm } from 'node:fs/promises';
import { ConfigError } from '../errors.ts';
import { readIfExists, writeFileAtomic } from '../store/file/files.ts';

/** How long a pairing link works. */
export const PAIRING_TTL_MS = 10 * 60 * 1000;

// A token is base64url(expiry (4 bytes, Unix seconds) || nonce (12) || HMAC-SHA256 tag (16)):
// 43 characters, small enough for a QR code a phone reads from across a desk. The tag is keyed by
// a secret in a 0600 file, so `npm run pair` mints tokens the server accepts without talking to it.
// A tag truncated to 128 bits is allowed by RFC 2104 §5 and leaves nothing to guess.
const SIGNED = 16;
const TOKEN_BYTES = SIGNED + 16;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const KEY = /^[A-Za-z0-9_-]{43}$/;

export interface MintedToken {
  readonly token: string;
  readonly expiresAt: Date;
}

/** What a token turned out to be: only a `valid` one names its nonce (the one-use id). */
export type TokenCheck =
  | { readonly status: 'valid'; readonly nonce: string; readonly expiresAt: Date }
  | { readonly status: 'invalid' | 'expired' };

export interface Pairing {
  /** A new token for one device, valid for 10 minutes; makes the key file when missing. */
  mint(): Promise<MintedToken>;
  /** Checks the tag in constant time, then the expiry. Says nothing about whether it was spent. */
  check(token: string): Promise<TokenCheck>;
}

/** Pairing tokens MAC'd with the key in `keyFile`; `now` is the clock (tests move it). */
export function createPairing(options: { keyFile: string; now?: () => number }): Pairing {
  const { keyFile, now = Date.now } = options;
  let key: Buffer | undefined;
  const tagOf = (secret: Buffer, signed: Buffer) =>
    createHmac('sha256', secret)
      .update(signed)
      .digest()
      .subarray(0, TOKEN_BYTES - SIGNED);

  return {
    async mint() {
      key ??= await loadOrCreateKey(keyFile);
      const expiry = Math.ceil((now() + PAIRING_TTL_MS) / 1000);
      const signed = Buffer.alloc(SIGNED);
      signed.writeUInt32BE(expiry, 0);
      randomBytes(SIGNED - 4).copy(signed, 4);
      const token = Buffer.concat([signed, tagOf(key, signed)]).toString('base64url');
      return { token, expiresAt: new Date(expiry * 1000) };
    },
    async check(token) {
      // Before a key exists, no token was ever minted: nothing can be valid.
      key ??= await readKey(keyFile);
      if (!key || !TOKEN.test(token)) return { status: 'invalid' };
      const bytes = Buffer.from(token, 'base64url');
      const signed = bytes.subarray(0, SIGNED);
      if (!timingSafeEqual(tagOf(key, signed), bytes.subarray(SIGNED)))
        return { status: 'invalid' };
      const expiresAt = signed.readUInt32BE(0) * 1000;
      if (expiresAt <= now()) return { status: 'expired' };
      // One from further ahead than a fresh token reaches was not made by mint().
      if (expiresAt > now() + PAIRING_TTL_MS + 1000) return { status: 'invalid' };
      return { status: 'valid', nonce: signed.toString('hex'), expiresAt: new Date(expiresAt) };
    },
  };
}

/** The key in `file`, or undefined when there is none yet. */
async function readKey(file: string): Promise<Buffer | undefined> {
  const text = (await readIfExists(file))?.trim();
  if (text === undefined) return undefined;
  if (!KEY.test(text)) {
    throw new ConfigError(
      `${file} is not a pairing key; remove it to make a new one (open pairing links stop working)`,
    );
  }
  return Buffer.from(text, 'base64url');
}

/** Reads the key, or makes one (mode 0600) when missing; two processes at once agree on one. */
async function loadOrCreateKey(file: string): Promise<Buffer> {
  const existing = await readKey(file);
  if (existing) return existing;
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFileAtomic(temp, `${randomBytes(32).toString('base64url')}\n`, 0o600);
  try {
    // link() fails when the file appeared meanwhile: then the other process's key wins.
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(temp, { force: true });
  }
  return (await readKey(file)) as Buffer;
}
