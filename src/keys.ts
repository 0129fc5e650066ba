import { createECDH } from 'node:crypto';
import { stat } from 'node:fs/promises';
import webpush from 'web-push';
import type { Config } from './config.ts';
import { ConfigError } from './errors.ts';
import { base64urlProblem, withoutPadding } from './store/canonical.ts';
import { readIfExists, writeFileAtomic } from './store/file/files.ts';

/** The application server's VAPID identity (RFC 8292). */
export interface VapidKeys {
  readonly publicKey: string;
  readonly privateKey: string;
  readonly subject: string;
}

/** Used for keys made on first start; it passes every push service's rules but reaches nobody. */
export const DEFAULT_SUBJECT = 'mailto:webpush@example.com';

/** Why a VAPID subject would be refused, or undefined when it is acceptable. */
export function subjectProblem(subject: string): string | undefined {
  const why =
    'The VAPID subject tells push services how to reach you: use mailto:you@example.com ' +
    'or an https: URL of a real site (Apple rejects other schemes and localhost addresses).';
  let url: URL;
  try {
    url = new URL(subject);
  } catch {
    return `"${subject}" is not a URL. ${why}`;
  }
  const host = url.protocol === 'mailto:' ? (url.pathname.split('@')[1] ?? '') : url.hostname;
  if (url.protocol !== 'mailto:' && url.protocol !== 'https:') {
    return `"${subject}" is not a mailto: or https: URL. ${why}`;
  }
  if (!host || /^(localhost|127\.[\d.]+|\[::1\]|::1)$|\.localhost$/i.test(host)) {
    return `"${subject}" points at localhost or has no host. ${why}`;
  }
  return undefined;
}

/** Makes a new P-256 key pair for VAPID. */
export function generateKeys(subject = DEFAULT_SUBJECT): VapidKeys {
  const { publicKey, privateKey } = webpush.generateVAPIDKeys();
  return { publicKey, privateKey, subject };
}

/** Reads vapid.json, or undefined when it does not exist; a broken file is an error naming it. */
export async function readKeys(file: string): Promise<VapidKeys | undefined> {
  const text = await readIfExists(file);
  if (text === undefined) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ConfigError(`${file} is not valid JSON; fix it or move it away to make new keys`);
  }
  const { publicKey, privateKey, subject } = (data ?? {}) as Record<string, unknown>;
  if (typeof publicKey !== 'string' || typeof privateKey !== 'string') {
    throw new ConfigError(`${file} must hold "publicKey" and "privateKey" strings`);
  }
  return checkKeys({ publicKey, privateKey, subject: String(subject ?? DEFAULT_SUBJECT) }, file);
}

/** Saves keys with mode 0600 (the private key is a secret). */
export async function saveKeys(file: string, keys: VapidKeys): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(keys, null, 2)}\n`, 0o600);
}

/** Keys from the environment, else from the file (VAPID_SUBJECT overrides its subject), else undefined. */
export async function loadKeys(config: Config): Promise<VapidKeys | undefined> {
  const { publicKey, privateKey, subject } = config.vapid;
  const problem = subject && subjectProblem(subject);
  if (problem) throw new ConfigError(`VAPID_SUBJECT: ${problem}`);
  if (publicKey && privateKey) {
    const keys = {
      publicKey: environmentKey(publicKey, 'VAPID_PUBLIC_KEY'),
      privateKey: environmentKey(privateKey, 'VAPID_PRIVATE_KEY'),
      subject: subject ?? DEFAULT_SUBJECT,
    };
    return checkKeys(keys, 'VAPID_PUBLIC_KEY/VAPID_PRIVATE_KEY');
  }
  const stored = await readKeys(config.vapidFile);
  return stored && subject ? { ...stored, subject } : stored;
}

/** The keys, made and saved (mode 0600) on first start. */
export async function loadOrCreateKeys(
  config: Config,
): Promise<{ keys: VapidKeys; created: boolean }> {
  const existing = await loadKeys(config);
  if (existing) return { keys: existing, created: false };
  const keys = generateKeys(config.vapid.subject);
  await saveKeys(config.vapidFile, keys);
  return { keys, created: true };
}

/** A warning when a secret file can be read by others, else undefined. */
export async function permissionWarning(file: string): Promise<string | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (!info || (info.mode & 0o077) === 0) return undefined;
  const mode = (info.mode & 0o777).toString(8);
  return `warning: ${file} is readable by others (mode ${mode}); run: chmod 600 ${file}`;
}

/** A key typed into the environment: canonical base64url, used without padding (web-push refuses "="). */
function environmentKey(text: string, name: string): string {
  const problem = base64urlProblem(text);
  if (problem) throw new ConfigError(`${name} ${problem}`);
  return withoutPadding(text);
}

function checkKeys(keys: VapidKeys, source: string): VapidKeys {
  const pub = Buffer.from(keys.publicKey, 'base64url');
  const priv = Buffer.from(keys.privateKey, 'base64url');
  let derived: Buffer;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(priv);
    derived = ecdh.getPublicKey();
  } catch {
    throw new ConfigError(`${source}: the private key is not a P-256 key (32 bytes, base64url)`);
  }
  if (priv.length !== 32 || pub.length !== 65 || !derived.equals(pub)) {
    throw new ConfigError(`${source}: the public key does not belong to the private key`);
  }
  const problem = subjectProblem(keys.subject);
  if (problem) throw new ConfigError(`${source}: ${problem}`);
  return Object.freeze({ ...keys });
}
